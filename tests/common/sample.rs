//! Sample source trees shared by the round-trip tests of `run` and `restore`.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// The tree the acceptance criteria name: nested dirs, an empty dir, a symlink, a hard link,
/// a 0-byte file, a large file, modes 0600/0755 and a non-UTF-8 name.
pub fn make_tree(root: &Path, big_mib: usize) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("a/b/c/deep.txt"), "deep\n").unwrap();
    fs::write(root.join("zero"), "").unwrap();
    fs::write(root.join("secret"), "s3cret\n").unwrap();
    fs::set_permissions(root.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("tool.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("tool.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("a/b/c/deep.txt", root.join("link")).unwrap();
    fs::write(root.join("orig"), "linked\n").unwrap();
    fs::hard_link(root.join("orig"), root.join("hard")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9-latin1");
    fs::write(root.join(odd), "non-utf8 name\n").unwrap();
    let long = "n".repeat(120);
    fs::create_dir_all(root.join(&long).join(&long)).unwrap();
    fs::write(root.join(&long).join(&long).join("f"), "long path\n").unwrap();
    // Incompressible data, so the stored size is real.
    let mut big = fs::File::create(root.join("big.bin")).unwrap();
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..big_mib {
        for b in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
        }
        std::io::Write::write_all(&mut big, &buf).unwrap();
    }
}

/// Committed-looking snapshot directories (names not starting with `.`), oldest first.
#[allow(unused_imports)] // each test binary uses only part of the harness
pub use super::snap::snapshots as snapshot_dirs;

/// Config text for job `name` backing up `root`.
pub fn job_toml(name: &str, root: &Path, extra: &str) -> String {
    format!(
        "[jobs.{name}]\nremote = \"test\"\nsources = [{}]\n{extra}\n",
        super::toml_str(&root.to_string_lossy())
    )
}

/// Writes the config of job `t` backing up `root` and runs it `runs` times, each of which must
/// succeed; returns the config.
pub fn backed_up(sshd: &super::Sshd, root: &Path, runs: usize) -> std::path::PathBuf {
    let cfg = sshd.write_config(&job_toml("t", root, ""));
    for _ in 0..runs {
        let out = super::backup(&cfg, &["run", "t"]);
        assert!(out.status.success(), "{}", super::describe(&out));
    }
    cfg
}

/// Flips one byte in the middle of `path`.
pub fn flip_byte(path: &Path) {
    let mut data = fs::read(path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x5a;
    fs::write(path, data).unwrap();
}
