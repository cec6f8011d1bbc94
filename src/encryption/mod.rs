//! Encryption at rest with age (age-encryption.org/v1), a published format with independent
//! implementations, so that an encrypted snapshot still restores with stock tools
//! (`age -d -i key.txt files.tar.zst.age | zstd -dc | tar -x`). The backing-up machine holds
//! only public recipients; identities (private keys) are read only to restore or verify.
//!
//! A leaf module: config parses recipients with it, the producers encrypt with it, restore and
//! verify decrypt with it; it knows nothing of them.

mod fingerprint;
mod identity;
mod recipient;
mod stream;

pub use fingerprint::fingerprint_ssh_blob;
pub use identity::{Identities, IdentitySource, generate};
pub use recipient::{Recipient, RecipientInfo, parse_recipients_file};
pub use stream::{Sealed, decrypt, is_wrong_identity};

/// The `format` recorded in a manifest for age-encrypted files.
pub const FORMAT: &str = "age-v1";
