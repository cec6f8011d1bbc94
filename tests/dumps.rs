//! Command sources (`[[jobs.X.commands]]`) end to end against a real sshd and a real
//! PostgreSQL: a dump streams into `<name>.zst` and restores with one pipe, a failed or hanging
//! dump never becomes a snapshot, nor does one that exits 0 with (almost) nothing in it or far
//! less than last time (the dump guards), and memory stays flat whatever the output size.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::postgres::{Postgres, comparable_dump};
use common::snap::{assert_failure_commits_nothing, command, job_entries, sha256sum_c, snapshots};
use common::sshd::Sshd;
use common::{backup, describe, toml_str};

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
    let mut zstd = Command::new("zstd")
        .arg("-dc")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db])
        .stdin(zstd.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(
        zstd.wait().unwrap().success(),
        "zstd -dc {}",
        file.display()
    );
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

    // `backup cat t latest app.sql | psql` restores it, and streams exactly the original bytes.
    pg.create_db("restored_cat");
    let mut cat = common::backup_cmd(&cfg, &["cat", "t", "latest", "app.sql"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let psql = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "restored_cat"])
        .stdin(cat.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(cat.wait().unwrap().success(), "backup cat failed");
    assert!(psql.status.success(), "{}", describe(&psql));
    assert!(
        pg.dump("app") == pg.dump("restored_cat"),
        "restored via cat differs"
    );
    let cat_sum = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} --config {} cat t latest app.sql | sha256sum",
            common::bin().display(),
            cfg.display()
        ))
        .output()
        .unwrap();
    let zstd_sum = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc {} | sha256sum",
            snap.join("app.sql.zst").display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        cat_sum.stdout, zstd_sum.stdout,
        "cat streams the original bytes"
    );

    // The plain dump restores with `zstd -dc | psql` into a fresh database, identically.
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

/// `[[jobs.t.commands]]` as an operator writes it: the default `min_bytes` floor applies.
fn guarded(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[[jobs.t.commands]]\nname = {}\nrun = [\"sh\", \"-c\", {}]\n{extra}\n",
        toml_str(name),
        toml_str(script)
    )
}

#[test]
fn an_empty_dump_exiting_0_fails_the_default_floor_and_commits_nothing() {
    let sshd = common::sshd_or_skip!();
    assert_failure_commits_nothing(
        &sshd,
        &guarded("app.sql", "true", ""),
        &[
            "\"app.sql\" wrote 0 bytes",
            "min_bytes of 512 bytes",
            "hint: check the source",
        ],
    );
}

#[test]
fn sqlite3_dump_of_a_corrupt_file_exits_0_with_119_bytes_and_fails_the_run() {
    let sshd = common::sshd_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("app.db");
    fs::write(&db, [0x5au8; 4096]).unwrap();
    // What the guard is for: the dump tool itself says all is well.
    let direct = Command::new("sqlite3")
        .arg(&db)
        .arg(".dump")
        .output()
        .unwrap();
    assert!(direct.status.success(), "{}", describe(&direct));
    assert!(direct.stdout.len() < 512, "{}", direct.stdout.len());
    let dump = format!("sqlite3 {} .dump", db.display());
    let bytes = format!("wrote {} bytes", direct.stdout.len());
    assert_failure_commits_nothing(
        &sshd,
        &guarded("app.sql", &dump, ""),
        &[&bytes, "512 bytes", "min_bytes"],
    );
}

fn run_dump(sshd: &Sshd, bytes: usize, extra: &str) -> std::process::Output {
    let script = format!("head -c {bytes} /dev/zero | tr '\\0' x");
    let cfg = sshd.write_config(&format!(
        "[jobs.t]\nremote = \"test\"\n{}",
        guarded("app.sql", &script, extra)
    ));
    backup(&cfg, &["run", "t"])
}

#[test]
fn a_dump_shrinking_past_max_shrink_fails_naming_both_sizes_and_a_normal_one_passes() {
    let sshd = common::sshd_or_skip!();
    let job_dir = sshd.remote_dir().join("t");
    let shrink = "max_shrink = \"50%\"";
    let out = run_dump(&sshd, 10_000, shrink);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let first = snapshots(&job_dir);
    assert_eq!(first.len(), 1);

    let out = run_dump(&sshd, 4_000, shrink);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let first_id = first[0].file_name().unwrap().to_string_lossy().into_owned();
    for want in [
        "wrote 4000 bytes",
        "60% less than the 10000 bytes",
        &first_id,
        "max_shrink is 50%",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(
        err.contains("hint:") && err.contains("raise max_shrink"),
        "{err}"
    );
    assert_eq!(snapshots(&job_dir), first, "nothing committed");
    assert_eq!(job_entries(&job_dir).len(), 1, "the .partial is abandoned");

    // Within the limit (and without a limit) the run passes; the reference is the newest.
    let out = run_dump(&sshd, 6_000, shrink);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = run_dump(&sshd, 1_000, "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = run_dump(&sshd, 900, shrink);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(snapshots(&job_dir).len(), 4);
}
