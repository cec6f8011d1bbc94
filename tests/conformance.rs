//! The remote conformance suite: one set of cases, each written once against `&dyn Remote` or
//! a `Repository`, run against every remote the product has: the local directory
//! (`type = "local"`), a real OpenSSH sshd and ProFTPD's mod_sftp (`common::Sshd`,
//! `common::Proftpd`; these follow the harness's skip rule, the local remote never skips).
//! Each case is a module with the tests `local`, `sshd` and `proftpd`
//! (`conformance/harness.rs`), e.g. `files::read_stops_at_the_limit::proftpd`.
//!
//! - `looking`: list, stat, mkdir;
//! - `files`: create, create_new, bounded reads, reads that refuse links, early consumers;
//! - `changes`: rename, removals, not-found kinds, `sha256`, capabilities;
//! - `wrappers`: dry run, progress counts, retry of reads;
//! - `commit`: the commit protocol through `Repository`;
//! - `crash`: a crash at each step of commit and delete (`faulty.rs` injects it);
//! - `fallback`: no directory renames, no remote hash;
//! - `lock`: the history's owner and the server-side lock.
//!
//! Where the servers differ underneath (the remote evens it out, or the case says so):
//! ProFTPD resolves a link in the last path component before LSTAT, RENAME and OPEN
//! (`dir_best_path`), so its LSTAT describes a link's target: the SFTP remote asks READLINK
//! beside it. Neither server has SFTP v3 statuses for "exists" or "not empty": both answer
//! Failure (ProFTPD with a message saying which); ProFTPD runs no `sha256sum` (no exec
//! channel), so `sha256` is Unsupported there and `capabilities().hash` turns false.

mod common;

#[path = "conformance/changes.rs"]
mod changes;
#[path = "conformance/commit.rs"]
mod commit;
#[path = "conformance/crash.rs"]
mod crash;
#[path = "conformance/fallback.rs"]
mod fallback;
#[path = "conformance/faulty.rs"]
mod faulty;
#[path = "conformance/files.rs"]
mod files;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/history.rs"]
mod history;
#[path = "conformance/lock.rs"]
mod lock;
#[path = "conformance/looking.rs"]
mod looking;
#[path = "conformance/wrappers.rs"]
mod wrappers;
