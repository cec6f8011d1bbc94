//! Encryption at rest with age, against a real sshd: what lies on the server is unreadable
//! without a key, yet checks with `sha256sum -c`; `restore`, `cat` and `verify --read` with an
//! identity (age X25519 or SSH, passphrase-protected or not) give the data back, and so do the
//! stock `age`, `zstd` and `tar`; a wrong or missing identity is a clear error.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::snap::{command, sha256sum_c, snapshots};
use common::{Sshd, assert_trees_eq, backup, describe, run_ok, toml_str};

const DUMP: &str = "CREATE TABLE t (x int);\nINSERT INTO t VALUES (1);\n";

/// Two identities of different kinds, and the config text of an encrypted job `t` backing up
/// `src` and one dump: the age recipient inline, the SSH key through a recipients file.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn age(&self) -> PathBuf {
        self.dir.path().join("age.txt")
    }

    fn ssh(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    fn age_recipient(&self) -> String {
        let text = fs::read_to_string(self.age()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_string()
    }

    /// `[jobs.t.encryption]` with both recipients.
    fn table(&self) -> String {
        let file = self.dir.path().join("recipients.txt");
        let ssh_pub = fs::read_to_string(self.ssh().with_extension("pub")).unwrap();
        fs::write(&file, format!("# the restore team\n\n{ssh_pub}")).unwrap();
        format!(
            "[jobs.t.encryption]\nrecipients = [{}]\nrecipients_file = {}\n",
            toml_str(&self.age_recipient()),
            toml_str(&file.to_string_lossy())
        )
    }
}

impl Keys {
    fn generate_ssh(&self) {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "restore@x", "-f"])
            .arg(self.ssh())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let k = Keys { dir };
    let out = Command::new(common::bin())
        .args(["keygen", "-o"])
        .arg(k.age())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        k.age_recipient(),
        "keygen prints the recipient on stdout"
    );
    assert_eq!(
        fs::metadata(k.age()).unwrap().permissions().mode() & 0o777,
        0o600
    );
    k.generate_ssh();
    k
}

fn encrypted_job(sshd: &Sshd, src: &Path, keys: &Keys) -> PathBuf {
    sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\nexclude = [\"*.secret-pattern\"]\n\n{}\n{}",
        toml_str(&src.to_string_lossy()),
        command("app.sql", &["printf", DUMP], ""),
        keys.table()
    ))
}

fn source_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    common::sample::make_tree(d.path(), 2);
    d
}

/// sshd, a sample tree, both keys, and the encrypted job `t` that has backed it up once.
fn backed_up() -> Option<(Sshd, tempfile::TempDir, Keys, PathBuf)> {
    let sshd = Sshd::start()?;
    let (src, keys) = (source_tree(), keys());
    let cfg = encrypted_job(&sshd, src.path(), &keys);
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    Some((sshd, src, keys, cfg))
}

#[test]
fn nothing_on_the_server_is_readable_without_the_key_yet_sha256sum_checks_it() {
    let Some((sshd, src, keys, cfg)) = backed_up() else {
        return;
    };
    let snap = snapshots(&sshd.remote_dir().join("t")).pop().unwrap();
    let mut names: Vec<String> = fs::read_dir(&snap)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "app.sql.zst.age",
            "details.json.age",
            "files.tar.zst.age",
            "manifest.json"
        ]
    );
    for n in ["app.sql.zst.age", "details.json.age", "files.tar.zst.age"] {
        let data = fs::read(snap.join(n)).unwrap();
        assert!(data.starts_with(b"age-encryption.org/v1\n"), "{n}");
        assert!(
            !data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
            "{n}: zstd magic"
        );
        assert!(
            data.len() < 262 || &data[257..262] != b"ustar",
            "{n}: tar magic"
        );
    }
    assert!(
        serde_json::from_slice::<serde_json::Value>(
            &fs::read(snap.join("details.json.age")).unwrap()
        )
        .is_err()
    );
    sha256sum_c(&snap);
    // The clear manifest names files, sizes and recipients' fingerprints, never what was
    // backed up or how.
    let manifest = fs::read_to_string(snap.join("manifest.json")).unwrap();
    let src_path = src.path().to_string_lossy();
    for secret in [&*src_path, "printf", "secret-pattern", "CREATE TABLE"] {
        assert!(
            !manifest.contains(secret),
            "manifest shows {secret:?}:\n{manifest}"
        );
    }
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let to = m["encryption"]["recipients"].as_array().unwrap();
    assert_eq!(to.len(), 2, "{manifest}");
    assert_eq!(to[0]["type"], "x25519");
    assert_eq!(to[1]["type"], "ssh-ed25519");
    let pub_key = keys.ssh().with_extension("pub");
    let ssh_fp = run_ok(
        "ssh-keygen",
        &[std::ffi::OsStr::new("-lf"), pub_key.as_os_str()],
    );
    let ssh_fp = String::from_utf8_lossy(&ssh_fp.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(to[1]["fingerprint"], ssh_fp.as_str());
    // list, and remote-hash verification before the commit, needed no key.
    assert_eq!(m["verified_by"], "remote-hash");
    let out = backup(&cfg, &["list", "t"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("encrypted to x25519 SHA256:"), "{listed}");
    let out = backup(&cfg, &["verify", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn each_identity_alone_restores_and_cats_what_was_backed_up() {
    let Some((_sshd, src, keys, cfg)) = backed_up() else {
        return;
    };
    for id in [keys.age(), keys.ssh()] {
        let id = id.to_string_lossy().into_owned();
        let target = tempfile::tempdir().unwrap();
        let dir = target.path().join("r");
        let out = backup(
            &cfg,
            &[
                "restore",
                "t",
                "latest",
                "--target",
                &dir.to_string_lossy(),
                "--identity",
                &id,
            ],
        );
        assert!(out.status.success(), "{id}: {}", describe(&out));
        assert_trees_eq(src.path(), &dir.join(src.path().strip_prefix("/").unwrap()));
        assert_eq!(fs::read_to_string(dir.join("app.sql")).unwrap(), DUMP);
        let out = backup(&cfg, &["cat", "t", "latest", "app.sql", "-i", &id]);
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), DUMP);
        let out = backup(&cfg, &["verify", "t", "--read", "-i", &id]);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("readback+decrypt"));
    }
    // The details come back with the key.
    let out = backup(
        &cfg,
        &[
            "cat",
            "t",
            "latest",
            "details.json",
            "-i",
            &keys.age().to_string_lossy(),
        ],
    );
    let details: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(details["sources"][0], src.path().to_string_lossy().as_ref());
    assert_eq!(details["commands"][0]["run"][0], "printf");
}

#[test]
fn stock_age_zstd_and_tar_restore_it() {
    if Command::new("age").arg("--version").output().is_err() {
        assert!(
            !common::require_sshd(),
            "age is not installed (apt-get install age)"
        );
        return;
    }
    let Some((sshd, src, keys, _cfg)) = backed_up() else {
        return;
    };
    let snap = snapshots(&sshd.remote_dir().join("t")).pop().unwrap();
    let restored = tempfile::tempdir().unwrap();
    let script = format!(
        "age -d -i {key} {snap}/files.tar.zst.age | zstd -dc | tar -x --numeric-owner -p -C {out} \
         && age -d -i {key} {snap}/app.sql.zst.age | zstd -dc > {out}/app.sql",
        key = keys.age().display(),
        snap = snap.display(),
        out = restored.path().display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_trees_eq(
        src.path(),
        &restored.path().join(src.path().strip_prefix("/").unwrap()),
    );
    assert_eq!(
        fs::read_to_string(restored.path().join("app.sql")).unwrap(),
        DUMP
    );
    // The SSH identity works with stock age too.
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "age -d -i {} {}/app.sql.zst.age | zstd -dc",
                keys.ssh().display(),
                snap.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        DUMP,
        "{}",
        describe(&out)
    );
}

#[test]
fn a_wrong_or_missing_identity_is_a_clear_error_before_anything_is_written() {
    let Some((sshd, _src, keys, cfg)) = backed_up() else {
        return;
    };
    let stranger = keys.dir.path().join("stranger.txt");
    let out = Command::new(common::bin())
        .args(["keygen", "-o"])
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(out.status.success());
    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("r");
    let dir_s = dir.to_string_lossy().into_owned();
    let out = backup(
        &cfg,
        &[
            "restore",
            "t",
            "latest",
            "--target",
            &dir_s,
            "-i",
            &stranger.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot decrypt")
            && err.contains("x25519 SHA256:")
            && err.contains("ssh-ed25519 SHA256:"),
        "{err}"
    );
    assert!(
        !dir.exists(),
        "nothing is written for a key that cannot open the snapshot"
    );
    let out = backup(&cfg, &["restore", "t", "latest", "--target", &dir_s]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no identity is given"));
    let stranger_s = stranger.to_string_lossy().into_owned();
    let cat_as_stranger = || backup(&cfg, &["cat", "t", "latest", "app.sql", "-i", &stranger_s]);
    let out = cat_as_stranger();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(out.stdout.is_empty());

    // A server that names the stranger among the recipients gets past the early check; the
    // age header still decides, and the error is the key's, not a checksum's.
    let stranger_fp = String::from_utf8_lossy(
        &backup(&cfg, &["keygen", "-y", &stranger.to_string_lossy()]).stdout,
    )
    .split("# x25519 ")
    .nth(1)
    .unwrap()
    .trim()
    .to_string();
    let snap = snapshots(&sshd.remote_dir().join("t")).pop().unwrap();
    let mpath = snap.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(&mpath).unwrap()).unwrap();
    m["encryption"]["recipients"][0]["fingerprint"] = stranger_fp.into();
    fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = cat_as_stranger();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot decrypt") && !err.contains("SHA-256 of"),
        "{err}"
    );
}

#[test]
fn a_changed_encrypted_file_fails_restore_and_verify_read() {
    let Some((sshd, _src, keys, cfg)) = backed_up() else {
        return;
    };
    let snap = snapshots(&sshd.remote_dir().join("t")).pop().unwrap();
    common::sample::flip_byte(&snap.join("app.sql.zst.age"));
    let id = keys.age().to_string_lossy().into_owned();
    let out = backup(&cfg, &["verify", "t", "--read", "-i", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("app.sql.zst.age"));
    let out = backup(&cfg, &["cat", "t", "latest", "app.sql", "-i", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be trusted"));
}

#[test]
fn protected_identities_read_their_passphrase_from_a_file() {
    let sshd = common::sshd_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let pass = d.path().join("pass");
    fs::write(&pass, "correct horse\n").unwrap();
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
    // An SSH key with a passphrase, and an age identity sealed with `age -p`'s format.
    let ssh = d.path().join("id");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
        .arg(&ssh)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let identity = age::x25519::Identity::generate();
    let sealed = d.path().join("age.age");
    {
        use age::secrecy::ExposeSecret;
        let enc = age::Encryptor::with_user_passphrase("correct horse".to_owned().into());
        let mut w = enc.wrap_output(fs::File::create(&sealed).unwrap()).unwrap();
        writeln!(w, "{}", identity.to_string().expose_secret()).unwrap();
        w.finish().unwrap();
    }
    for p in [&ssh, &sealed] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("f"), "data\n").unwrap();
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n[jobs.t.encryption]\nrecipients = [{}, {}]\nidentity_file = {}\nidentity_passphrase_file = {}\n",
        toml_str(&src.path().to_string_lossy()),
        toml_str(&identity.to_public().to_string()),
        toml_str(fs::read_to_string(ssh.with_extension("pub")).unwrap().trim()),
        toml_str(&sealed.to_string_lossy()),
        toml_str(&pass.to_string_lossy()),
    ));
    assert!(backup(&cfg, &["run", "t"]).status.success());
    let target = tempfile::tempdir().unwrap();
    // The job's identity_file (the sealed age identity) and its passphrase file.
    let dir = target.path().join("a");
    let out = backup(&cfg, &["restore", "t", "--target", &dir.to_string_lossy()]);
    assert!(out.status.success(), "{}", describe(&out));
    // The SSH key given on the command line, with its passphrase file.
    let dir = target.path().join("b");
    let (dir_s, ssh_s, pass_s) = (
        dir.to_string_lossy(),
        ssh.to_string_lossy(),
        pass.to_string_lossy(),
    );
    let out = backup(
        &cfg,
        &[
            "restore",
            "t",
            "--target",
            &dir_s,
            "-i",
            &ssh_s,
            "--identity-passphrase-file",
            &pass_s,
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    // Without the passphrase file: the error says what to give.
    let dir = target.path().join("c");
    let bare = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n[jobs.t.encryption]\nrecipients = [{}]\n",
        toml_str(&src.path().to_string_lossy()),
        toml_str(&identity.to_public().to_string()),
    ));
    let out = backup(
        &bare,
        &[
            "restore",
            "t",
            "--target",
            &dir.to_string_lossy(),
            "-i",
            &ssh.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("identity-passphrase-file"));
}

#[test]
fn turning_encryption_on_affects_new_snapshots_only() {
    let sshd = common::sshd_or_skip!();
    let keys = keys();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("f"), "v1\n").unwrap();
    let plain = common::sample::backed_up(&sshd, src.path(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let cfg = encrypted_job(&sshd, src.path(), &keys);
    assert!(backup(&cfg, &["run", "t"]).status.success());
    let out = backup(&cfg, &["list", "t", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].get("encrypted_to").is_none());
    assert_eq!(listed[1]["encrypted_to"].as_array().unwrap().len(), 2);
    let old = listed[0]["id"].as_str().unwrap();
    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("r");
    let out = backup(
        &plain,
        &["restore", "t", old, "--target", &dir.to_string_lossy()],
    );
    assert!(
        out.status.success(),
        "the old snapshot needs no key: {}",
        describe(&out)
    );
}

#[test]
fn bad_recipients_are_config_errors_with_file_and_line() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    let job = |table: &str| {
        format!(
            "[jobs.t]\nremote = \"test\"\nsources = [{}]\n[jobs.t.encryption]\n{table}",
            toml_str(&src.path().to_string_lossy())
        )
    };
    let cfg = sshd.write_config(&job("recipients = [\"age1notakey\"]\n"));
    let out = backup(&cfg, &["check", "--config-only"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("jobs.t.encryption.recipients")
            && err.contains("not a valid age X25519 recipient"),
        "{err}"
    );
    assert!(err.contains(&format!("{}:", cfg.display())), "{err}");
    let file = src.path().join("recipients.txt");
    fs::write(&file, "# ok\nssh-dss AAAAB3NzaC1kc3MAAACBAP\n").unwrap();
    let cfg = sshd.write_config(&job(&format!(
        "recipients_file = {}\n",
        toml_str(&file.to_string_lossy())
    )));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", file.display())), "{err}");
    let cfg = sshd.write_config(&job("recipients = []\n"));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no recipient"));
}
