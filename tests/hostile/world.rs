//! Where every case starts: a real sshd; job `t` (a small tree and the command output
//! `app.sql`) backed up once by the real binary; and sentinels on both sides of the wire:
//! on the server a directory beside the backup base, a file and a directory beside the job
//! directory (`<base>/x.zst` is where `../../x.zst` from a snapshot points); on this machine
//! a directory beside every restore target and the commands' working directory.

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::bounded::{DEADLINE, assert_reported, run_until, run_within};
use crate::common::sample::job_toml;
use crate::common::sentinel::Sentinels;
use crate::common::snap::{command, snapshots};
use crate::common::surgery::{clone_snapshot, id_of, shifted};
use crate::common::{Sshd, backup_cmd, describe};

pub struct World {
    pub sshd: Sshd,
    pub cfg: PathBuf,
    /// The backed-up tree.
    pub root: PathBuf,
    /// `<base>/t` on the server.
    pub job: PathBuf,
    /// Beside the backup base on the server: a sentinel directory.
    pub server_outside: PathBuf,
    /// Beside the restore targets on this machine: a sentinel directory.
    pub local_outside: PathBuf,
    pub sentinels: Sentinels,
    /// The bytes of `<base>/x.zst`, a valid zstd file (watched: never to be read).
    pub loot: Vec<u8>,
    cwd: PathBuf,
    local: tempfile::TempDir,
    targets: Cell<usize>,
    _src: tempfile::TempDir,
}

impl World {
    /// `None` when sshd cannot run here (the test then returns).
    pub fn new() -> Option<World> {
        let sshd = Sshd::start()?;
        let src = tempfile::tempdir().unwrap();
        let root = src.path().join("data");
        fs::create_dir_all(root.join("d")).unwrap();
        fs::write(root.join("d/f.txt"), "hello\n".repeat(100)).unwrap();
        fs::write(root.join("g.txt"), "g\n").unwrap();
        let cfg = sshd.write_config(&job_text(&root, ""));
        let out = run_within(backup_cmd(&cfg, &["run", "t"]), DEADLINE);
        assert!(out.status.success(), "{}", describe(&out));
        let local = tempfile::tempdir().unwrap();
        let mut sentinels = Sentinels::new();
        let server_outside = sentinels.plant(&sshd.dir().join("outside"));
        let remote = sshd.remote_dir();
        let loot = zstd::encode_all(&b"loot: never read\n"[..], 3).unwrap();
        sentinels.plant_file(&remote.join("x.zst"), &loot);
        sentinels.plant(&remote.join("beside"));
        let local_outside = sentinels.plant(&local.path().join("outside"));
        let cwd = sentinels.plant(&local.path().join("cwd"));
        fs::create_dir(local.path().join("targets")).unwrap();
        Some(World {
            job: remote.join("t"),
            sshd,
            cfg,
            root,
            server_outside,
            local_outside,
            sentinels,
            loot,
            cwd,
            local,
            targets: Cell::new(0),
            _src: src,
        })
    }

    /// Rewrites the config: job `t` as before, then `extra` (e.g. a retention policy).
    pub fn reconfigure(&self, extra: &str) {
        assert_eq!(
            self.sshd.write_config(&job_text(&self.root, extra)),
            self.cfg
        );
    }

    /// The snapshot the first run made.
    pub fn base(&self) -> PathBuf {
        snapshots(&self.job)[0].clone()
    }

    /// Its id.
    pub fn base_id(&self) -> String {
        id_of(&self.base())
    }

    /// A copy of the base (an intact snapshot of job `t`) under the id `secs` seconds after
    /// the base's, for a case to damage: its id and directory.
    pub fn copy(&self, secs: i64) -> (String, PathBuf) {
        let id = shifted(&self.base_id(), secs);
        let dir = clone_snapshot(&self.base(), &id);
        (id, dir)
    }

    /// `backup ARGS...` with the world's config, from the sentinel working directory.
    /// `NO_COLOR=1`: the logger's own colours are not what the ESC checks look for (that log
    /// lines to a pipe carry none by default is pipes.rs's case).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = backup_cmd(&self.cfg, args);
        cmd.current_dir(&self.cwd).env("NO_COLOR", "1");
        cmd
    }

    /// [`Self::cmd`] run under the deadline.
    pub fn run(&self, args: &[&str]) -> Output {
        run_within(self.cmd(args), DEADLINE)
    }

    /// Like [`Self::run`], closing stdout once `enough` says so (`| head`).
    pub fn run_closing(
        &self,
        args: &[&str],
        enough: impl FnMut(&[u8]) -> bool + Send + 'static,
    ) -> Output {
        run_until(self.cmd(args), DEADLINE, enough)
    }

    /// A fresh restore target (not created yet) beside the local sentinel.
    pub fn target(&self) -> PathBuf {
        let n = self.targets.get() + 1;
        self.targets.set(n);
        self.local.path().join("targets").join(n.to_string())
    }

    /// `backup restore t WHICH --target <fresh>`: its output and the target.
    pub fn restore(&self, which: &str) -> (Output, PathBuf) {
        let target = self.target();
        let out = self.run(&["restore", "t", which, "--target", target.to_str().unwrap()]);
        (out, target)
    }

    /// A damaged snapshot `id`: `verify`, `restore` and `cat` each exit 1 naming it and every
    /// one of `needles`, print nothing raw from the server, and write nothing: no byte of
    /// output, nothing into the target. Nothing outside was touched.
    pub fn refuses(&self, id: &str, needles: &[&str]) {
        let target = self.refuses_file(id, "app.sql", needles);
        assert_empty_or_absent(&target);
    }

    /// A snapshot `id` with a bad stored file: `verify`, `restore` and `cat CAT_NAME` each exit 1
    /// naming the snapshot and every one of `needles`; `cat` writes nothing. Returns the
    /// restore's target, which may hold the snapshot's intact parts.
    pub fn refuses_file(&self, id: &str, cat_name: &str, needles: &[&str]) -> PathBuf {
        let mut said = vec![id];
        said.extend_from_slice(needles);
        let out = self.run(&["verify", "t", id]);
        assert_reported(&out, 1, &said);
        let (out, target) = self.restore(id);
        assert_reported(&out, 1, &said);
        let out = self.run(&["cat", "t", id, cat_name]);
        assert_reported(&out, 1, &said);
        assert!(
            out.stdout.is_empty(),
            "cat wrote output\n{}",
            describe(&out)
        );
        self.sentinels.assert_intact();
        target
    }

    /// `list` and `list --json` still work (exit 0), flag each of `damaged` and list each of
    /// `intact` unflagged.
    pub fn lists(&self, intact: &[&str], damaged: &[&str]) {
        let out = self.run(&["list", "t"]);
        assert_reported(&out, 0, &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        for id in intact {
            let line = text.lines().find(|l| l.starts_with(id));
            assert!(
                line.is_some_and(|l| !l.contains("DAMAGED")),
                "{id} not listed intact\n{text}"
            );
        }
        for id in damaged {
            let line = text.lines().find(|l| l.starts_with(id));
            assert!(
                line.is_some_and(|l| l.contains("DAMAGED")),
                "{id} not flagged\n{text}"
            );
        }
        let out = self.run(&["list", "t", "--json"]);
        assert_reported(&out, 0, &[]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let flagged: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.get("damaged").is_some())
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        let mut want = damaged.to_vec();
        want.sort();
        assert_eq!(flagged, want, "list --json");
    }

    /// `verify --all` exits 1 naming each of `damaged` (each with its problem).
    pub fn verify_all_names(&self, damaged: &[&str]) {
        let out = self.run(&["verify", "t", "--all"]);
        assert_reported(&out, 1, damaged);
        self.sentinels.assert_intact();
    }
}

/// Job `t`: the tree `root` and the command output `app.sql`, then `extra`.
fn job_text(root: &Path, extra: &str) -> String {
    let cmd = command("app.sql", &["echo", "select 1;"], "");
    job_toml("t", root, &format!("{cmd}{extra}"))
}

/// Nothing was restored into `target`.
pub fn assert_empty_or_absent(target: &Path) {
    if let Ok(rd) = fs::read_dir(target) {
        let left: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "written into the target: {left:?}");
    }
}

/// The checks can fail: a read, a write, a new entry and a removal outside are each noticed.
#[test]
fn sentinels_notice_reads_writes_creations_and_removals() {
    let tmp = tempfile::tempdir().unwrap();
    let caught = |harm: fn(&Path)| {
        let mut s = Sentinels::new();
        let dir = s.plant(&tmp.path().join("s"));
        harm(&dir);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.assert_intact()));
        fs::remove_dir_all(&dir).unwrap();
        r.is_err()
    };
    type Harm = fn(&Path);
    let harms: [(&str, Harm, bool); 6] = [
        (
            "a read",
            |d| assert!(fs::read(d.join("sub/inner.txt")).is_ok()),
            true,
        ),
        (
            "a listing",
            |d| assert!(fs::read_dir(d.join("sub")).is_ok_and(|r| r.count() == 1)),
            true,
        ),
        (
            "a write",
            |d| fs::write(d.join("sentinel.txt"), "x").unwrap(),
            true,
        ),
        (
            "a new file",
            |d| fs::write(d.join("new"), "x").unwrap(),
            true,
        ),
        (
            "a removal",
            |d| fs::remove_file(d.join("sub/inner.txt")).unwrap(),
            true,
        ),
        (
            "an lstat",
            |d| assert!(d.join("sentinel.txt").symlink_metadata().is_ok()),
            false,
        ),
    ];
    for (what, harm, noticed) in harms {
        assert_eq!(caught(harm), noticed, "{what}");
    }
}
