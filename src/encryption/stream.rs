//! The age stage of a stream: on the way out, between zstd and the hashing sink (so that the
//! SHA-256 covers the stored, encrypted bytes and checks without a key); on the way back,
//! between the hashing reader and zstd. age's STREAM construction authenticates every 64 KiB
//! chunk and the end of the file, so a changed or truncated file fails to decrypt.

use std::io::{self, Read, Write};

use super::identity::Identities;
use super::recipient::Recipient;

/// A writer that stores its bytes as they come (`Plain`) or encrypted to recipients.
pub enum Sealed<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> Sealed<W> {
    /// Encrypts to `recipients` when there are any.
    pub fn new(out: W, recipients: &[Recipient]) -> io::Result<Sealed<W>> {
        if recipients.is_empty() {
            return Ok(Sealed::Plain(out));
        }
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(Recipient::as_age))
                .map_err(|e| io::Error::other(format!("cannot encrypt to the recipients: {e}")))?;
        Ok(Sealed::Age(encryptor.wrap_output(out)?))
    }

    /// Writes the last (authenticated) chunk and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Sealed::Plain(w) => Ok(w),
            Sealed::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(data),
            Sealed::Age(w) => w.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

/// None of the identities given can decrypt a file. Carried inside an `io::Error` so that it
/// survives the synchronous readers it passes through, and told apart by [`is_wrong_identity`].
#[derive(Debug)]
struct WrongIdentity;

impl std::fmt::Display for WrongIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("none of the identities given can decrypt it")
    }
}

impl std::error::Error for WrongIdentity {}

pub fn is_wrong_identity(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<WrongIdentity>())
}

/// The plaintext of an age file read from `input`.
pub fn decrypt<R: Read>(input: R, ids: &Identities) -> io::Result<age::stream::StreamReader<R>> {
    let decryptor = age::Decryptor::new(input).map_err(|e| match e {
        age::DecryptError::Io(e) => e,
        e => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a readable age file: {e}"),
        ),
    })?;
    decryptor.decrypt(ids.as_age()).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => io::Error::other(WrongIdentity),
        age::DecryptError::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, format!("cannot decrypt: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encryption::IdentitySource;

    fn identity(dir: &std::path::Path, name: &str) -> (Identities, Recipient) {
        let (text, recipient) = crate::encryption::generate(chrono::Utc::now());
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let ids = IdentitySource {
            path,
            passphrase_file: None,
        }
        .load()
        .unwrap();
        (ids, recipient)
    }

    fn seal(data: &[u8], to: &[Recipient]) -> Vec<u8> {
        let mut w = Sealed::new(Vec::new(), to).unwrap();
        for piece in data.chunks(10_000) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_for_each_recipient_alone() {
        let d = tempfile::tempdir().unwrap();
        let (a, ra) = identity(d.path(), "a");
        let (b, rb) = identity(d.path(), "b");
        assert_eq!(a.recipients()[0].info(), ra.info());
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let stored = seal(&data, &[ra, rb]);
        assert_ne!(&stored[..data.len().min(stored.len())], &data[..]);
        for ids in [&a, &b] {
            let mut out = Vec::new();
            decrypt(&stored[..], ids)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data);
        }
    }

    #[test]
    fn a_wrong_identity_is_told_apart_from_damage() {
        let d = tempfile::tempdir().unwrap();
        let (a, ra) = identity(d.path(), "a");
        let (other, _) = identity(d.path(), "other");
        let stored = seal(b"secret", &[ra]);
        let e = decrypt(&stored[..], &other).err().unwrap();
        assert!(is_wrong_identity(&e), "{e}");
        let mut damaged = stored.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let mut out = Vec::new();
        let e = decrypt(&damaged[..], &a)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(!is_wrong_identity(&e));
        let cut = &stored[..stored.len() - 20];
        let e = decrypt(cut, &a).unwrap().read_to_end(&mut out).unwrap_err();
        assert!(!is_wrong_identity(&e));
    }

    #[test]
    fn no_recipients_stores_plain_bytes() {
        assert_eq!(seal(b"plain", &[]), b"plain");
    }
}
