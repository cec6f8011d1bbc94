//! [`Postgres`]: a real PostgreSQL server for dump tests, started with `initdb` + `pg_ctl` as
//! an unprivileged user in a temp dir (data, log and unix socket), on a free 127.0.0.1 port,
//! with trust authentication for the `postgres` role. Stopped by its PID on drop.
//!
//! Binaries: `$BACKUP_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's
//! `postgresql` package). `None` (after an `eprintln!`) when it cannot run here; panics instead
//! under `BACKUP_TEST_REQUIRE_SSHD=1`.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{describe, free_port, require_sshd};

pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// The OS user the server runs as.
    pub os_user: String,
    uid: u32,
    gid: u32,
    pid: Option<i32>,
}

impl Postgres {
    pub fn start() -> Option<Postgres> {
        match Self::try_start() {
            Ok(pg) => Some(pg),
            Err(why) if require_sshd() => {
                panic!("BACKUP_TEST_REQUIRE_SSHD=1 but PostgreSQL did not start: {why}")
            }
            Err(why) => {
                eprintln!("skipping: PostgreSQL unavailable: {why}");
                None
            }
        }
    }

    fn try_start() -> Result<Postgres, String> {
        let bin = find_bin().ok_or("no PostgreSQL binaries (install `postgresql`)")?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: cannot start PostgreSQL as another user".into());
        }
        let (os_user, uid, gid) = ["postgres", "nobody"]
            .iter()
            .find_map(|name| {
                let u = nix::unistd::User::from_name(name).ok().flatten()?;
                Some((name.to_string(), u.uid.as_raw(), u.gid.as_raw()))
            })
            .ok_or("no postgres or nobody user")?;
        let dir = tempfile::Builder::new()
            .prefix("pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        let mut pg = Postgres {
            dir,
            bin,
            port: 0,
            os_user,
            uid,
            gid,
            pid: None,
        };
        let data = pg.data_dir();
        let out = pg
            .as_server_user(&pg.bin("initdb"))
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed\n{}", describe(&out)));
        }
        let mut last = String::new();
        // The free port is only reserved until the probe socket is dropped: retry a lost race.
        for _ in 0..3 {
            pg.port = free_port();
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                pg.port,
                pg.dir().display()
            );
            let out = pg
                .as_server_user(&pg.bin("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(pg.dir().join("server.log"))
                .args(["-w", "-t", "60", "-o", &opts, "start"])
                .output()
                .map_err(|e| format!("pg_ctl: {e}"))?;
            if out.status.success() {
                let pidfile = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
                pg.pid = pidfile.lines().next().and_then(|l| l.trim().parse().ok());
                return Ok(pg);
            }
            last = format!(
                "pg_ctl start failed\n{}\n--- server.log ---\n{}",
                describe(&out),
                fs::read_to_string(pg.dir().join("server.log")).unwrap_or_default()
            );
        }
        Err(last)
    }

    fn as_server_user(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.uid(self.uid)
            .gid(self.gid)
            .current_dir(self.dir())
            .stdin(Stdio::null());
        c
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }
    /// The unix socket directory (PGHOST).
    pub fn socket_dir(&self) -> &Path {
        self.dir()
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// A PostgreSQL program, e.g. `bin("pg_dump")`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// `PGHOST`, `PGPORT` and `PGUSER` for clients of this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PGHOST".into(), self.socket_dir().display().to_string()),
            ("PGPORT".into(), self.port.to_string()),
            ("PGUSER".into(), "postgres".into()),
        ]
    }

    /// A client program of this server, as the current user, connected via the socket.
    pub fn client(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin(name));
        c.envs(self.env()).stdin(Stdio::null());
        c
    }

    /// `psql -v ON_ERROR_STOP=1 -d DB -c SQL`, panicking unless it succeeds.
    pub fn psql(&self, db: &str, sql: &str) -> Output {
        let out = self
            .client("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
            .output()
            .expect("spawn psql");
        assert!(out.status.success(), "psql {sql}\n{}", describe(&out));
        out
    }

    pub fn create_db(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// `pg_dump DB` as plain SQL, without the per-dump random `\restrict` key lines that
    /// PostgreSQL 15.14+ adds, so two dumps of equal databases compare equal.
    pub fn dump(&self, db: &str) -> String {
        let out = self
            .client("pg_dump")
            .arg(db)
            .output()
            .expect("spawn pg_dump");
        assert!(out.status.success(), "pg_dump {db}\n{}", describe(&out));
        comparable_dump(&String::from_utf8_lossy(&out.stdout))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir().join("server.log")).unwrap_or_default()
    }
}

/// A plain `pg_dump` without lines that differ between two dumps of the same data.
pub fn comparable_dump(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some(pid) = self.pid else { return };
        // Fast shutdown, then kill; only the PID the server wrote for this data directory.
        // SAFETY: plain kill(2) on the postmaster we started.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(pid) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Running (not gone and not a zombie waiting for a reaper).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

fn find_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BACKUP_TEST_PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}
