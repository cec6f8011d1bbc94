//! Acceptance suite of issue 12, "the server is untrusted input": hostile servers against a
//! real sshd, simulated by changing the server's directory on disk, one module per class of
//! the Build list:
//! - names.rs: crafted names in `manifest.json` and `SHA256SUMS` (Build 1);
//! - fields.rs: a manifest whose own `snapshot` or `job` points elsewhere (Builds 1, 4);
//! - links.rs: symlinks (and devices, FIFOs) where a snapshot, `.partial` or `.deleting`
//!   directory, or a stored file should be (Build 2);
//! - sizes.rs: stored files and manifests longer or shorter than recorded (Builds 3, 4);
//! - archive.rs: a hostile tar whose checksums pass (Build 5);
//! - pipes.rs: a reader that goes away (`| head`) (Build 6).
//!
//! Every case proves, with sentinels on both machines (tests/common/sentinel.rs), that
//! nothing outside the job directory on the server nor outside the target here was read,
//! written or deleted; runs every command under a deadline (tests/common/bounded.rs), killing
//! it and failing if it hangs; and checks the exit code, that the message names the
//! snapshot and the file, and that no raw ESC byte from the server reached the output.

mod common;

#[path = "hostile/archive.rs"]
mod archive;
#[path = "hostile/fields.rs"]
mod fields;
#[path = "hostile/links.rs"]
mod links;
#[path = "hostile/names.rs"]
mod names;
#[path = "hostile/pipes.rs"]
mod pipes;
#[path = "hostile/sizes.rs"]
mod sizes;
#[path = "hostile/world.rs"]
mod world;
