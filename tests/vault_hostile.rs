//! The vault runs as root over directories the client's account writes, so everything the
//! client leaves there is hostile input (issue 14): symlinks named like snapshots, a symlinked
//! job directory, a snapshot file that is a symlink, a hard link or a FIFO, a file still open
//! for writing when the seal comes. None of it makes the vault follow a link, touch anything
//! outside the repository, or hang; each is reported and kept or cleaned as a leftover. Bad
//! vault configs exit 2. Simulated by the test writing the server's directory on disk, with
//! snapshots made by the real agent through a `local` append-only remote. Root only (the
//! seal is a chown).

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use common::{backup, describe, toml_str};

struct Setup {
    d: tempfile::TempDir,
    agent: PathBuf,
    vault: PathBuf,
}

impl Setup {
    fn new() -> Option<Setup> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("a.txt"), "data\n").unwrap();
        let agent = d.path().join("agent.toml");
        fs::write(
            &agent,
            format!(
                "[agent]\nstate_dir = {}\n[remotes.v]\ntype = \"local\"\npath = {}\nappend_only = true\n[jobs.t]\nremote = \"v\"\nsources = [{}]\n",
                toml_str(&d.path().join("state").to_string_lossy()),
                toml_str(&d.path().join("srv/host1").to_string_lossy()),
                toml_str(&src.to_string_lossy()),
            ),
        )
        .unwrap();
        let vault = d.path().join("vault.toml");
        fs::write(
            &vault,
            format!(
                "[vault]\nroots = [{}]\nuser = \"daemon\"\nstate_dir = {}\ngrace = \"1h\"\n",
                toml_str(&d.path().join("srv").to_string_lossy()),
                toml_str(&d.path().join("vault-state").to_string_lossy()),
            ),
        )
        .unwrap();
        Some(Setup { d, agent, vault })
    }

    fn job(&self) -> PathBuf {
        self.d.path().join("srv/host1/t")
    }

    /// One real snapshot; its id.
    fn snapshot(&self) -> String {
        let out = backup(&self.agent, &["run", "t"]);
        assert!(out.status.success(), "{}", describe(&out));
        let mut ids: Vec<String> = fs::read_dir(self.job())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 16)
            .collect();
        ids.sort();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        ids.pop().unwrap()
    }

    fn vault_run(&self) -> std::process::Output {
        backup(&self.vault, &["vault", "run"])
    }

    fn status(&self) -> serde_json::Value {
        let out = backup(&self.vault, &["vault", "status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// Owner and mode of `p` (not followed).
fn owner_mode(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.uid(), m.mode() & 0o7777)
}

#[test]
fn links_and_special_files_are_never_followed_and_make_their_snapshot_damaged() {
    let Some(s) = Setup::new() else { return };
    let outside = s.d.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret");
    fs::write(&secret, "not the vault's\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    let untouched = || (owner_mode(&outside), owner_mode(&secret));
    let before = untouched();

    let linked = s.snapshot();
    let hard = s.snapshot();
    let fifo = s.snapshot();
    let job = s.job();
    // A stored file replaced by a symlink, by a hard link to a file elsewhere, by a FIFO.
    fs::remove_file(job.join(&linked).join("files.tar.zst")).unwrap();
    symlink(&secret, job.join(&linked).join("files.tar.zst")).unwrap();
    fs::remove_file(job.join(&hard).join("files.tar.zst")).unwrap();
    fs::hard_link(&secret, job.join(&hard).join("files.tar.zst")).unwrap();
    fs::remove_file(job.join(&fifo).join("files.tar.zst")).unwrap();
    nix::unistd::mkfifo(
        &job.join(&fifo).join("files.tar.zst"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // A symlink named like a snapshot, and a whole job directory that is a symlink.
    symlink(&outside, job.join("20261111T010101Z")).unwrap();
    fs::create_dir_all(outside.join("t/20261111T010101Z")).unwrap();
    symlink(outside.join("t"), s.d.path().join("srv/host1/evil")).unwrap();

    let out = common::bounded::run_within(
        common::backup_cmd(&s.vault, &["vault", "run"]),
        std::time::Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(untouched(), before, "the vault touched a file outside");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "not the vault's\n");
    let st = s.status();
    let snaps = &st["repositories"]["host1/t"]["snapshots"];
    for id in [&linked, &hard, &fifo] {
        assert_eq!(snaps[id]["status"], "damaged", "{id}: {st}");
    }
    assert!(
        snaps[&hard]["reason"]
            .as_str()
            .unwrap()
            .contains("hard links")
    );
    assert!(st["repositories"].get("host1/evil").is_none(), "{st}");
    // The link is still a link, pointing where it did; it was never taken for a snapshot.
    assert!(
        fs::symlink_metadata(job.join("20261111T010101Z"))
            .unwrap()
            .is_symlink()
    );
    assert!(snaps.get("20261111T010101Z").is_none());
}

#[test]
fn a_file_still_open_for_writing_waits_and_what_is_written_through_it_is_caught() {
    let Some(s) = Setup::new() else { return };
    let id = s.snapshot();
    let file = s.job().join(&id).join("files.tar.zst");
    // An intruder's descriptor, opened before the seal.
    let mut w = fs::OpenOptions::new().append(true).open(&file).unwrap();
    let out = s.vault_run();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("still open for writing"));
    assert_eq!(
        s.status()["repositories"]["host1/t"]["snapshots"][&id]["status"],
        "waiting"
    );
    assert_eq!(owner_mode(&file).1, 0o444, "sealed even while it waits");
    w.write_all(b"appended after the seal").unwrap();
    drop(w);
    let out = s.vault_run();
    assert!(out.status.success(), "{}", describe(&out));
    let st = s.status();
    let seen = &st["repositories"]["host1/t"]["snapshots"][&id];
    assert_eq!(seen["status"], "damaged", "{st}");
}

#[test]
fn bad_configs_exit_2_and_a_second_pass_at_once_is_refused() {
    let Some(s) = Setup::new() else { return };
    let out = backup(&s.d.path().join("missing.toml"), &["vault", "run"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let bad = s.d.path().join("bad.toml");
    fs::write(
        &bad,
        "[vault]\nroots = [\"/srv\"]\nuser = \"daemon\"\nsael_delay = \"1m\"\n",
    )
    .unwrap();
    let out = backup(&bad, &["vault", "run"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sael_delay"));

    s.snapshot();
    let state = s.d.path().join("vault-state");
    fs::create_dir_all(&state).unwrap();
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("vault.lock"))
        .unwrap();
    let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap();
    let out = s.vault_run();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another vault pass"));
    drop(held);
    let out = s.vault_run();
    assert!(out.status.success(), "{}", describe(&out));

    // A root that is not there for a pass (an unmounted disk) is an error, and the vault
    // forgets nothing it knew about the repositories under it.
    let srv = s.d.path().join("srv");
    let away = s.d.path().join("srv.away");
    fs::rename(&srv, &away).unwrap();
    let out = s.vault_run();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open the vault root"));
    fs::rename(&away, &srv).unwrap();
    let st = s.status();
    assert_eq!(
        st["repositories"]["host1/t"]["snapshots"]
            .as_object()
            .map(|m| m.len()),
        Some(1),
        "{st}"
    );
}
