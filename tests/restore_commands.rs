//! `backup restore` brings back command outputs as plain files beside the sources.

mod common;

use std::fs;

use common::snap::command;
use common::{backup, describe, toml_str};

#[test]
fn command_outputs_restore_as_plain_files() {
    let sshd = common::sshd_or_skip!();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("app.conf"), "listen = 8080\n").unwrap();
    let jobs = format!(
        "[jobs.t]\nremote = \"test\"\nsources = [{}]\n\n{}",
        toml_str(&src.path().to_string_lossy()),
        command(
            "app.sql",
            &["sh", "-c", "printf 'CREATE TABLE t (x int);\\n'"],
            ""
        ),
    );
    let cfg = sshd.write_config(&jobs);
    let out = backup(&cfg, &["run", "t"]);
    assert!(out.status.success(), "{}", describe(&out));
    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("r");
    let out = backup(
        &cfg,
        &["restore", "t", "latest", "--target", &dir.to_string_lossy()],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        fs::read_to_string(dir.join("app.sql")).unwrap(),
        "CREATE TABLE t (x int);\n"
    );
    let conf = dir
        .join(src.path().strip_prefix("/").unwrap())
        .join("app.conf");
    assert_eq!(fs::read_to_string(conf).unwrap(), "listen = 8080\n");
}
