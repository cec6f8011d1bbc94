//! `[remotes.NAME] type = "local"`: a run into a directory on this machine leaves the same
//! snapshot layout as SFTP, the standard tools restore it, every command works on it, and the
//! SFTP-only parts (`host-key`, SFTP keys in the table) are clear usage and config errors.
//! Also: `list` into a pipe its reader closes early ends quietly.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;

use common::hosts::{
    DEADLINE, Host, SQL, Server, assert_exit, assert_restores, backup_within, host, ids, list_json,
    stderr, stdout, tree_and_dump, wait_within,
};
use common::sample::make_tree;
use common::snap::{assert_standard_tools_restore, job_entries, snapshots};
use common::{backup_cmd, describe};

/// A source tree in `d/data`, and host `alpha` backing it up to the local directory `d/remote`.
fn local_alpha(d: &Path, extra: &str) -> Host {
    let root = d.join("data");
    if !root.exists() {
        make_tree(&root, 1);
    }
    let path = d.join("remote");
    host(
        d,
        "alpha",
        Server::Local,
        path.to_str().unwrap(),
        &tree_and_dump(&root, extra),
    )
}

/// What a snapshot directory looks like, without what differs between two runs (hashes,
/// sizes, times): its files with their modes, the manifest's keys, and the archive's members.
fn layout(snap: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<String> = fs::read_dir(snap)
        .unwrap()
        .flatten()
        .map(|e| {
            let mode = e.metadata().unwrap().permissions().mode() & 0o7777;
            format!("file {} {mode:o}", e.file_name().to_string_lossy())
        })
        .collect();
    v.sort();
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    let obj = m.as_object().unwrap();
    v.extend(obj.keys().map(|k| format!("manifest key {k}")));
    for f in m["files"].as_array().unwrap() {
        v.push(format!("manifest file {}", f["name"]));
    }
    let sums = fs::read_to_string(snap.join("SHA256SUMS")).unwrap();
    v.extend(sums.lines().map(|l| format!("sum {}", &l[64..])));
    let tar = common::run_ok(
        "sh",
        &[
            "-c",
            &format!("zstd -dc {}/files.tar.zst | tar -t", snap.display()),
        ],
    );
    v.extend(
        String::from_utf8_lossy(&tar.stdout)
            .lines()
            .map(|l| format!("tar {l}")),
    );
    v
}

#[test]
fn a_local_run_has_the_sftp_layout_and_the_standard_tools_restore_it() {
    let d = tempfile::tempdir().unwrap();
    let alpha = local_alpha(d.path(), "");
    let out = alpha.ok(&["run", "t"]);
    assert!(stderr(&out).contains("committed"), "{}", describe(&out));
    let job_dir = d.path().join("remote/t");
    let snaps = snapshots(&job_dir);
    assert_eq!(snaps.len(), 1, "{:?}", job_entries(&job_dir));
    assert_eq!(
        job_entries(&job_dir),
        ids(&job_dir),
        "no .partial or .lock left"
    );
    assert!(job_dir.join(".owner").is_file());

    let root = d.path().join("data");
    assert_standard_tools_restore(&snaps[0], &root);
    let sql = common::run_ok(
        "zstd",
        &["-dc", snaps[0].join("app.sql.zst").to_str().unwrap()],
    );
    assert_eq!(String::from_utf8_lossy(&sql.stdout), SQL);

    // The same job over SFTP leaves the same files, modes, manifest fields and archive.
    let Some(sshd) = common::sshd() else { return };
    let sftp = host(
        d.path(),
        "sftp",
        Server::Sftp(&sshd),
        sshd.remote_dir().to_str().unwrap(),
        &tree_and_dump(&root, ""),
    );
    sftp.ok(&["run", "t"]);
    let over_sftp = snapshots(&sshd.remote_dir().join("t"));
    assert_eq!(layout(&snaps[0]), layout(&over_sftp[0]));
    assert_eq!(
        job_entries(&job_dir).len(),
        job_entries(&sshd.remote_dir().join("t")).len()
    );
}

#[test]
fn list_verify_restore_cat_prune_and_check_work_on_a_local_remote() {
    let d = tempfile::tempdir().unwrap();
    let alpha = local_alpha(d.path(), "");
    for _ in 0..3 {
        alpha.ok(&["run", "t"]);
    }
    let job_dir = d.path().join("remote/t");
    let made = ids(&job_dir);
    assert_eq!(made.len(), 3);

    let text = stdout(&alpha.ok(&["list", "t"]));
    for id in &made {
        let line = text.lines().find(|l| l.starts_with(id.as_str()));
        assert!(line.is_some_and(|l| l.ends_with("host alpha")), "{text}");
    }
    let (json, listed) = list_json(&alpha);
    assert_eq!(listed, made);
    for s in &json {
        assert_eq!(s["host"], "alpha");
        assert!(s.get("damaged").is_none(), "{s}");
        let names: Vec<&str> = s["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["files.tar.zst", "app.sql.zst"], "{s}");
    }

    let text = stdout(&alpha.ok(&["verify", "t"]));
    assert!(text.contains(&made[2]) && text.contains("intact"), "{text}");
    let text = stdout(&alpha.ok(&["verify", "t", "--all"]));
    assert_eq!(text.matches("intact").count(), 3, "{text}");
    alpha.ok(&["verify", "t", &made[0], "--read"]);

    let root = d.path().join("data");
    assert_restores(&alpha, "latest", &root, &d.path().join("restored"));
    let out = alpha.ok(&["cat", "t", &made[1], "app.sql"]);
    assert_eq!(stdout(&out), SQL);

    let check = alpha.ok(&["check", "--connect"]);
    assert!(
        stdout(&check).contains("remote test: ok"),
        "{}",
        describe(&check)
    );

    let alpha = local_alpha(d.path(), "[jobs.t.retention]\nkeep_last = 2");
    let text = stdout(&alpha.ok(&["prune", "t", "--dry-run"]));
    assert!(text.contains("keep 2, would remove 1"), "{text}");
    assert_eq!(ids(&job_dir), made);
    let text = stdout(&alpha.ok(&["prune", "t"]));
    assert!(text.contains("keep 2, removed 1"), "{text}");
    assert_eq!(ids(&job_dir), made[1..]);
    assert_eq!(
        job_entries(&job_dir),
        made[1..],
        "no .deleting or .lock left"
    );
}

#[test]
fn host_key_on_a_local_remote_and_sftp_keys_in_one_are_usage_and_config_errors() {
    let d = tempfile::tempdir().unwrap();
    let alpha = local_alpha(d.path(), "");
    let out = backup_within(&alpha.config, &["host-key", "test"]);
    assert_exit(&out, 2, "host-key of a local remote");
    assert!(
        stderr(&out).contains("local directory"),
        "{}",
        describe(&out)
    );

    let cfg = d.path().join("bad.toml");
    fs::write(
        &cfg,
        "[agent]\nstate_dir = \"/nonexistent/state\"\n\n[remotes.l]\ntype = \"local\"\npath = \"/srv/backups\"\nhost = \"backup.example.net\"\n",
    )
    .unwrap();
    for args in [&["check"][..], &["list", "t"]] {
        let out = backup_within(&cfg, args);
        assert_exit(&out, 2, "a local remote with host");
        let err = stderr(&out);
        assert!(
            err.contains("bad.toml:4:"),
            "names the file and line: {err}"
        );
        assert!(err.contains("remotes.l") && err.contains("host"), "{err}");
    }
}

/// Plants `n` more committed snapshots beside the real one (copies of its manifest under other
/// ids), so that a listing is far larger than a pipe's buffer.
fn plant_copies(job_dir: &Path, n: usize) {
    let real = &snapshots(job_dir)[0];
    let mut m: serde_json::Value =
        serde_json::from_slice(&fs::read(real.join("manifest.json")).unwrap()).unwrap();
    let base = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap();
    for i in 0..n {
        let id = (base + chrono::TimeDelta::hours(i as i64))
            .format("%Y%m%dT%H%M%SZ")
            .to_string();
        m["snapshot"] = id.clone().into();
        fs::create_dir(job_dir.join(&id)).unwrap();
        fs::write(job_dir.join(&id).join("manifest.json"), m.to_string()).unwrap();
    }
}

#[test]
fn list_into_a_pipe_closed_early_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    let alpha = local_alpha(d.path(), "");
    alpha.ok(&["run", "t"]);
    plant_copies(&d.path().join("remote/t"), 600);
    let text = alpha.ok(&["list", "t"]).stdout;
    assert!(
        text.len() > 128 * 1024,
        "bigger than a pipe (64 KiB): {}",
        text.len()
    );

    // `backup list t | head -1`
    let mut child = backup_cmd(&alpha.config, &["list", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("2020"), "{first}");
    let out = wait_within(child, DEADLINE);
    assert_exit(&out, 0, "list | head -1");
    assert!(!stderr(&out).contains("panic"), "{}", describe(&out));

    // `backup list --json t | head -c 10`
    let mut child = backup_cmd(&alpha.config, &["list", "--json", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ten = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut ten).unwrap();
    assert!(ten.starts_with(b"["), "{ten:?}");
    let out = wait_within(child, DEADLINE);
    assert_exit(&out, 0, "list --json | head -c 10");
    assert!(!stderr(&out).contains("panic"), "{}", describe(&out));
}
