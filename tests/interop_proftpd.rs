//! The product against a second SFTP implementation: ProFTPD 1.3.8's mod_sftp
//! (`common::Proftpd`). It has no exec channel, so `verify = "auto"` falls back to readback.
//! It advertises (SFTP v3) `posix-rename@openssh.com`, `fsync@openssh.com`,
//! `statvfs@openssh.com`, `fstatvfs@openssh.com`, `hardlink@openssh.com`, plus `versions`
//! and `home-directory`; no `limits@openssh.com` (so 32 KiB requests), no chacha20-poly1305
//! (aes-ctr, aes-gcm, aes-cbc only). With several SFTP channels ProFTPD mixes up writes that
//! span SSH packets (its bug #1897); the product keeps each write within one packet, which
//! `default_channels_upload_to_proftpd` proves over many runs.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sample::{flip_byte, job_toml, make_tree};
use common::snap::{
    assert_pruned_to_newest, assert_standard_tools_restore, command, job_entries,
    restore_latest_matches, sha256sum_c, snapshots,
};
use common::{Proftpd, SshServer, backup, describe};
use tempfile::TempDir;

/// The dump command's output: big enough to span several 32 KiB requests.
fn dump_text() -> String {
    let rows: String = (1..=30_000).map(|i| format!("{i}\n")).collect();
    format!("CREATE TABLE t (x int);\n{rows}")
}

/// Config of job `t`: `root` plus a command stream `app.sql`, `verify = "auto"`, `extra` lines
/// in `[jobs.t]`; the remote's defaults (three SFTP channels).
fn write_job(server: &SshServer, root: &Path, extra: &str) -> PathBuf {
    write_job_with(server, "", root, extra)
}

/// [`write_job`] with `remote` lines in `[remotes.test]`.
fn write_job_with(server: &SshServer, remote: &str, root: &Path, extra: &str) -> PathBuf {
    let dump = ["sh", "-c", "echo 'CREATE TABLE t (x int);'; seq 1 30000"];
    server.write_config_with(
        remote,
        &format!(
            "{}{}",
            job_toml("t", root, &format!("verify = \"auto\"\n{extra}")),
            command("app.sql", &dump, "")
        ),
    )
}

/// A source tree with a 3 MiB file, and [`write_job`] for it.
fn job(server: &SshServer, extra: &str) -> (TempDir, PathBuf, PathBuf) {
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 3);
    let cfg = write_job(server, &root, extra);
    (src, root, cfg)
}

/// A ProFTPD with job `t` (see [`job`]) run `runs` times; `None` when ProFTPD cannot run here.
fn backed_up(runs: usize) -> Option<(Proftpd, TempDir, PathBuf, PathBuf)> {
    let server = Proftpd::start()?;
    let (src, root, cfg) = job(&server, "");
    for _ in 0..runs {
        run(&server, &cfg);
    }
    Some((server, src, root, cfg))
}

/// `backup -v run t`, which must commit; its stderr.
fn run(server: &SshServer, cfg: &Path) -> String {
    let out = common::backup_cmd(cfg, &["-v", "run", "t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", describe(&out), server.log());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// [`run`], which must say it verified by readback and found the rename, fsync and statvfs
/// extensions (`on`) or none of them.
fn run_readback(server: &SshServer, cfg: &Path, on: bool) {
    let err = run(server, cfg);
    let ext = format!("posix_rename: {on}, fsync: {on}, statvfs: {on}");
    assert!(err.contains(&ext), "{err}");
    assert!(err.contains("verified by readback"), "{err}");
}

/// `backup --config CFG ARGS...`, which must succeed; its stdout.
fn backup_ok(server: &SshServer, cfg: &Path, args: &[&str]) -> String {
    let out = backup(cfg, args);
    assert!(out.status.success(), "{}\n{}", describe(&out), server.log());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `zstd -dc FILE`, which must succeed.
fn unzstd(file: &Path) -> Vec<u8> {
    let out = Command::new("zstd").arg("-dc").arg(file).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    out.stdout
}

#[test]
fn check_connect_reaches_the_server() {
    let Some((server, _src, _root, cfg)) = backed_up(0) else {
        return;
    };
    let stdout = backup_ok(&server, &cfg, &["check", "--connect"]);
    assert!(stdout.contains("remote test: ok"), "{stdout}");
    assert!(stdout.contains("writable"), "{stdout}");
}

#[test]
fn run_commits_a_readback_verified_snapshot_that_standard_tools_restore() {
    let Some(server) = Proftpd::start() else {
        return;
    };
    let (_src, root, cfg) = job(&server, "");
    run_readback(&server, &cfg, true);

    let snaps = snapshots(&server.remote_dir().join("t"));
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let snap = &snaps[0];
    assert_eq!(
        job_entries(snap),
        [
            "SHA256SUMS",
            "app.sql.zst",
            "files.tar.zst",
            "manifest.json"
        ]
    );
    assert_standard_tools_restore(snap, &root);
    assert_eq!(unzstd(&snap.join("app.sql.zst")), dump_text().as_bytes());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["verified_by"], "readback");

    let json = backup_ok(&server, &cfg, &["list", "t", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{json}");
    let id = snap.file_name().unwrap().to_string_lossy();
    assert_eq!(listed[0]["id"], id.as_ref());
    let text = backup_ok(&server, &cfg, &["list", "t"]);
    assert!(text.contains(id.as_ref()), "{text}");
}

#[test]
fn verify_restore_and_cat_read_the_snapshot_back() {
    let Some((server, _src, root, cfg)) = backed_up(1) else {
        return;
    };

    let verified = backup_ok(&server, &cfg, &["verify", "t", "--all"]);
    assert!(verified.contains("intact"), "{verified}");

    let (_dest, target) = restore_latest_matches(&cfg, &root);
    assert_eq!(
        fs::read_to_string(target.join("app.sql")).unwrap(),
        dump_text()
    );

    let dump = backup_ok(&server, &cfg, &["cat", "t", "latest", "app.sql"]);
    assert_eq!(dump, dump_text());

    // Readback sees damage on this server too.
    let snap = &snapshots(&server.remote_dir().join("t"))[0];
    flip_byte(&snap.join("files.tar.zst"));
    let out = backup(&cfg, &["verify", "t", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn prune_keeps_the_newest_snapshot() {
    let Some((server, _src, root, _cfg)) = backed_up(2) else {
        return;
    };
    let job_dir = server.remote_dir().join("t");
    let before = snapshots(&job_dir);
    assert_eq!(before.len(), 2, "{before:?}");
    let cfg = write_job(&server, &root, "[jobs.t.retention]\nkeep_last = 1\n");
    let plan = backup_ok(&server, &cfg, &["prune", "t", "--dry-run"]);
    assert!(plan.contains("would remove 1"), "{plan}");
    assert_eq!(snapshots(&job_dir), before, "dry run removes nothing");
    backup_ok(&server, &cfg, &["prune", "t"]);
    assert_pruned_to_newest(&job_dir, &before);
}

/// With its rename, fsync and statvfs extensions switched off (`SFTPExtensions`), the run
/// falls back to plain rename and still commits.
#[test]
fn a_proftpd_without_extensions_still_gets_verified_snapshots() {
    let Some(server) = Proftpd::start_with("SFTPExtensions -posixRename -fsync -statvfs") else {
        return;
    };
    let (_src, _root, cfg) = job(&server, "");
    run_readback(&server, &cfg, false);
    run(&server, &cfg);
    let snaps = snapshots(&server.remote_dir().join("t"));
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    for s in &snaps {
        sha256sum_c(s);
    }
    backup_ok(&server, &cfg, &["verify", "t", "--all"]);
}

/// Many runs with the default three channels: before writes were kept within one SSH packet,
/// 4 of 5 such series failed with `write ...: connection lost` after ProFTPD answered status 9
/// or crashed its session.
#[test]
fn default_channels_upload_to_proftpd() {
    let Some(server) = Proftpd::start() else {
        return;
    };
    let src = tempfile::tempdir().unwrap();
    let root = src.path().join("data");
    make_tree(&root, 3);
    let cfg = write_job_with(&server, "", &root, "");
    for _ in 0..30 {
        run(&server, &cfg);
    }
}

/// Many reads in one session, several at once (the manifests of every snapshot): each read's
/// requests reach the server before its handle's close. A read sent after the close got
/// ProFTPD's "invalid handle" (status 9, not in SFTP v3), which broke the whole session.
#[test]
fn many_reads_in_one_session_keep_it() {
    let Some((server, _src, _root, cfg)) = backed_up(3) else {
        return;
    };
    for _ in 0..3 {
        let out = backup_ok(&server, &cfg, &["verify", "t", "--all", "--read"]);
        assert_eq!(out.matches("intact").count(), 3, "{out}");
    }
}
