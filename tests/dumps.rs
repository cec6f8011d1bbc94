//! Command sources (`[[jobs.X.commands]]`) end to end against a real sshd and a real
//! PostgreSQL: a dump streams into `<name>.zst` and restores with one pipe, a failed or hanging
//! dump never becomes a snapshot, and memory stays flat whatever the output size.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::postgres::{Postgres, comparable_dump};
use common::{Sshd, backup, describe, toml_str};

/// Committed snapshots (id-named directories) of a job, oldest first.
fn snapshots(job_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(job_dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .is_some_and(|n| !n.as_bytes().starts_with(b"."))
    });
    v.sort();
    v
}

/// Everything in the job directory, hidden entries included.
fn job_entries(job_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(job_dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn sha256sum_c(dir: &Path) {
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

/// `[[jobs.t.commands]]` with `run` as a TOML array and extra lines.
fn command(name: &str, argv: &[&str], extra: &str) -> String {
    let run: Vec<String> = argv.iter().map(|a| toml_str(a)).collect();
    format!(
        "[[jobs.t.commands]]\nname = {}\nrun = [{}]\n{extra}\n",
        toml_str(name),
        run.join(", ")
    )
}

fn pg_env(pg: &Postgres) -> String {
    let kv: Vec<String> = pg
        .env()
        .iter()
        .map(|(k, v)| format!("{k} = {}", toml_str(v)))
        .collect();
    format!("env = {{ {} }}", kv.join(", "))
}

fn load_app(pg: &Postgres) {
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
         CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers(id),
                              total numeric(10,2), placed timestamptz, note text);
         CREATE INDEX orders_customer ON orders (customer);
         CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 900;
         INSERT INTO customers (name, email)
           SELECT 'customer ' || i, 'c' || i || '@example.net' FROM generate_series(1, 1000) i;
         INSERT INTO orders (customer, total, placed, note)
           SELECT 1 + i % 1000, (i % 100000) / 100.0,
                  timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
                  CASE WHEN i % 7 = 0 THEN E'tab\\tand \"quotes\" and ''apostrophes''' END
           FROM generate_series(1, 100000) i;",
    );
}

fn zstd_dc_into_psql(pg: &Postgres, file: &Path, db: &str) {
    let zstd = Command::new("zstd")
        .arg("-dc")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db])
        .stdin(zstd.stdout.unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "restore into {db}: {}",
        describe(&out)
    );
}

#[test]
fn pg_dump_streams_next_to_the_files_and_restores_with_one_pipe() {
    let sshd = common::sshd_or_skip!();
    let Some(pg) = Postgres::start() else { return };
    load_app(&pg);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("app.conf"), "listen = 8080\n").unwrap();
    let env = pg_env(&pg);
    let user = format!("user = {}\n{env}", toml_str(&pg.os_user));
    let dump = pg.bin("pg_dump").display().to_string();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n\n{}{}",
        toml_str(&src.path().to_string_lossy()),
        command("app.sql", &[&dump, "app"], &user),
        command("app.dump", &[&dump, "--format=custom", "app"], &user),
    );
    let cfg = sshd.write_config(&jobs);
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}\n{}", describe(&out), pg.log());

    let snaps = snapshots(&sshd.remote_dir().join("t"));
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let snap = &snaps[0];
    let names = job_entries(snap);
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "app.dump.zst",
            "app.sql.zst",
            "files.tar.zst",
            "manifest.json"
        ]
    );
    sha256sum_c(snap);

    // The plain dump restores with `zstd -dc | psql` into a fresh database, identically.
    // TODO(issue 6): also `backup cat t latest app.sql | psql` once `backup cat` lands.
    pg.create_db("restored");
    zstd_dc_into_psql(&pg, &snap.join("app.sql.zst"), "restored");
    assert!(
        pg.dump("app") == pg.dump("restored"),
        "restored dump differs"
    );
    // The custom-format dump restores with pg_restore.
    pg.create_db("restored2");
    let zstd = Command::new("zstd")
        .arg("-dc")
        .arg(snap.join("app.dump.zst"))
        .output()
        .unwrap();
    let mut restore = pg
        .client("pg_restore")
        .args(["--exit-on-error", "-d", "restored2"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(restore.stdin.as_mut().unwrap(), &zstd.stdout).unwrap();
    drop(restore.stdin.take());
    assert!(restore.wait().unwrap().success());
    assert!(
        pg.dump("app") == pg.dump("restored2"),
        "pg_restore'd dump differs"
    );

    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    let cmds = m["commands"].as_array().unwrap();
    assert_eq!(cmds.len(), 2, "{m:#}");
    assert_eq!(cmds[0]["name"], "app.sql");
    assert_eq!(cmds[0]["exit_status"], 0);
    assert!(cmds[0]["duration_seconds"].as_f64().unwrap() >= 0.0);
    let plain = Command::new("zstd")
        .arg("-dc")
        .arg(snap.join("app.sql.zst"))
        .output()
        .unwrap();
    assert_eq!(
        cmds[0]["bytes"].as_u64().unwrap(),
        plain.stdout.len() as u64
    );
    assert!(
        comparable_dump(&String::from_utf8_lossy(&plain.stdout)).contains("COPY public.orders")
    );
    let files: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["files.tar.zst", "app.sql.zst", "app.dump.zst"]);
}

/// A good snapshot first, then the failing job: the result must be "exit 1, nothing new".
fn assert_failure_commits_nothing(sshd: &Sshd, failing: &str, expect: &[&str]) {
    let good = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        command("a.txt", &["echo", "good"], "")
    ));
    let out = backup(&good, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let job_dir = sshd.remote_dir().join("t");
    let before = snapshots(&job_dir);
    let cfg = sshd.write_config(&format!("[jobs.t]\nremote = \"test\"\n{failing}"));
    let out = backup(&cfg, &["run", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- the failed run said ---\n{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "missing {e:?} in:\n{stderr}");
    }
    assert_eq!(snapshots(&job_dir), before);
    assert_eq!(
        job_entries(&job_dir).len(),
        before.len(),
        "leftovers: {:?}",
        job_entries(&job_dir)
    );
    for s in &before {
        sha256sum_c(s);
    }
}

#[test]
fn a_dump_failing_halfway_commits_nothing() {
    let sshd = common::sshd_or_skip!();
    let script = "head -c 50M /dev/urandom; echo 'pg_dump: error: dump broke halfway' >&2; exit 2";
    assert_failure_commits_nothing(
        &sshd,
        &command("app.sql", &["sh", "-c", script], ""),
        &[
            "\"app.sql\"",
            "exited with status 2",
            "pg_dump: error: dump broke halfway",
        ],
    );
}

#[test]
fn pg_dump_of_a_missing_database_fails_the_run() {
    let sshd = common::sshd_or_skip!();
    let Some(pg) = Postgres::start() else { return };
    let dump = pg.bin("pg_dump").display().to_string();
    assert_failure_commits_nothing(
        &sshd,
        &command("app.sql", &[&dump, "nosuchdb"], &pg_env(&pg)),
        &[
            "exited with status 1",
            "database \"nosuchdb\" does not exist",
        ],
    );
}

#[test]
fn a_hanging_command_is_killed_at_its_timeout() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let pids = tmp.path().join("pids");
    // The child in the background proves the whole process group is killed.
    let script = format!(
        "echo $$ > {0}; sleep 1000 & echo $! >> {0}; wait",
        pids.display()
    );
    assert_failure_commits_nothing(
        &sshd,
        &command("hang.out", &["sh", "-c", &script], "timeout = \"2s\""),
        &["\"hang.out\"", "did not finish within 2s"],
    );
    let text = fs::read_to_string(&pids).unwrap();
    for pid in text.split_whitespace() {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(
            matches!(state, None | Some("Z")),
            "process {pid} survived: {stat}"
        );
    }
}

#[test]
fn commands_run_concurrently() {
    // Each command needs the other to be running: a FIFO opens only once both ends are open.
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    common::run_ok("mkfifo", &[fifo.to_str().unwrap()]);
    let f = fifo.display().to_string();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n{}{}",
        command(
            "writer.out",
            &["sh", "-c", &format!("echo ping > {f}; echo wrote")],
            "timeout = \"60s\""
        ),
        command("reader.out", &["cat", &f], "timeout = \"60s\""),
    );
    let out = backup(&sshd.write_config(&jobs), &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let snap = &snapshots(&sshd.remote_dir().join("t"))[0];
    let read = Command::new("zstd")
        .arg("-dc")
        .arg(snap.join("reader.out.zst"))
        .output()
        .unwrap();
    assert_eq!(read.stdout, b"ping\n");
    sha256sum_c(snap);
}

#[test]
fn four_gib_of_output_streams_in_bounded_memory() {
    let sshd = common::sshd_or_skip!();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        command("zero.bin", &["head", "-c", "4G", "/dev/zero"], "")
    );
    let cfg = sshd.write_config(&jobs);
    let (out, kib) = common::peak_rss_kib(&common::backup_cmd(&cfg, &["run", "t"]));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        kib < 100 * 1024,
        "peak RSS {kib} KiB for 4 GiB of command output"
    );
    let snap = &snapshots(&sshd.remote_dir().join("t"))[0];
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(snap.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["commands"][0]["bytes"].as_u64(), Some(4 << 30));
    assert_eq!(m["files"][0]["raw_size"].as_u64(), Some(4 << 30));
    sha256sum_c(snap);
    eprintln!("peak RSS for 4 GiB of command output: {kib} KiB");
}
