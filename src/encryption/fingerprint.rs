//! Fingerprints that name a key without revealing more than the key's owner already shows:
//! `SHA256:<base64>` as `ssh-keygen -lf` prints it for SSH keys, and the same form over the
//! recipient string for age X25519 recipients (age defines no fingerprint of its own), so
//! `printf %s age1... | openssl dgst -sha256 -binary | base64 | tr -d =` reproduces it.

use data_encoding::{BASE64, BASE64_NOPAD};
use sha2::{Digest, Sha256};

/// `SHA256:...` of an SSH public key blob (the base64 field of an `authorized_keys` line).
pub fn fingerprint_ssh_blob(blob: &[u8]) -> String {
    format!("SHA256:{}", BASE64_NOPAD.encode(&Sha256::digest(blob)))
}

/// The fingerprint of a recipient in its canonical text form.
pub(super) fn of_recipient(text: &str) -> String {
    match text.split_whitespace().collect::<Vec<_>>().as_slice() {
        [kind, blob, ..] if kind.starts_with("ssh-") => match BASE64.decode(blob.as_bytes()) {
            Ok(blob) => fingerprint_ssh_blob(&blob),
            Err(_) => of_text(text),
        },
        _ => of_text(text),
    }
}

fn of_text(text: &str) -> String {
    format!(
        "SHA256:{}",
        BASE64_NOPAD.encode(&Sha256::digest(text.trim().as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_fingerprints_match_ssh_keygen() {
        // A key made with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed this fingerprint.
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP4eiJgctEdQF9toUWXnQjdXn/1Xs5oY6X48SwCjc4X7 x";
        assert_eq!(
            of_recipient(key),
            "SHA256:zCPFM41iovVEo70l+wVJoxPSXdxABVp/Kle2trgoODg"
        );
    }

    #[test]
    fn age_fingerprints_are_over_the_recipient_text() {
        let a = of_recipient("age1abc");
        assert_eq!(a, of_recipient(" age1abc\n"));
        assert_ne!(a, of_recipient("age1abd"));
    }
}
