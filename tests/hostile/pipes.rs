//! Build 6, output hygiene: a reader that goes away (`backup list | head -1`,
//! `list --json | head -c 10`, `cat ... | head -c 1`) or a closed stdout or stderr ends any
//! command quietly with its usual code, like `cat`, never with a panic; and log lines to a
//! pipe carry no ANSI sequences. The outputs are made larger than a pipe holds, so the
//! command is still writing when the reader goes away.

use std::fs;

use super::world::World;
use crate::common::bounded::{DEADLINE, assert_no_escape, run_closed, run_within};
use crate::common::describe;
use crate::common::surgery::{edit_manifest, reseal};

/// Why `out` is not "exit `code`, and nothing on stderr but log lines (and, for a failure,
/// its error)": another code, a panic, a complaint about the pipe, a raw ESC byte; `None`
/// when it is.
fn unquiet(out: &std::process::Output, code: i32) -> Option<String> {
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    let mut bad = vec!["panic", "broken pipe", "stdout", "\u{1b}"];
    if code == 0 {
        bad.push("error");
    }
    (out.status.code() != Some(code) || bad.iter().any(|b| err.contains(b)))
        .then(|| format!("expected exit {code} and a quiet stderr\n{}", describe(out)))
}

/// Panics listing every command of `runs` (args, code, output) that did not end quietly.
fn all_quiet(runs: Vec<(String, i32, std::process::Output)>) {
    let loud: Vec<String> = runs
        .iter()
        .filter_map(|(args, code, out)| unquiet(out, *code).map(|why| format!("{args}: {why}")))
        .collect();
    assert!(loud.is_empty(), "{}", loud.join("\n\n"));
}

/// A snapshot whose manifest is cut short: damaged (listed, with a warning logged).
fn damaged(w: &World) -> String {
    let (id, snap) = w.copy(1);
    fs::write(snap.join("manifest.json"), "{").unwrap();
    id
}

/// A snapshot that lists 5000 stored files (a long `list`) and one whose `app.sql` is 6.5 MiB.
fn big(w: &World) -> (String, String) {
    let (listed, snap) = w.copy(1);
    edit_manifest(&snap, |m| {
        let f = m.files[1].clone();
        m.files.extend((0..5000).map(|i| {
            let mut f = f.clone();
            f.name = format!("f{i:04}.zst");
            f
        }));
    });
    let (large, snap) = w.copy(2);
    let sql = "insert into t values (1);\n".repeat(1 << 18);
    let zst = zstd::encode_all(sql.as_bytes(), 3).unwrap();
    fs::write(snap.join("app.sql.zst"), zst).unwrap();
    reseal(&snap);
    (listed, large)
}

#[test]
fn a_reader_that_goes_away_ends_list_and_cat_quietly() {
    let Some(w) = World::new() else { return };
    let (_, large) = big(&w);

    // backup list t | head -1
    let line = w.run_closing(&["list", "t"], |got| got.contains(&b'\n'));
    assert!(line.stdout.starts_with(w.base_id().as_bytes()));
    // backup list --json t | head -c 10
    let json = w.run_closing(&["list", "--json", "t"], |got| got.len() >= 10);
    assert!(json.stdout.starts_with(b"["));
    // backup cat t LARGE app.sql | head -c 1
    let byte = w.run_closing(&["cat", "t", &large, "app.sql"], |got| !got.is_empty());
    assert!(byte.stdout.starts_with(b"i"));
    all_quiet(vec![
        ("list t | head -1".into(), 0, line),
        ("list --json t | head -c 10".into(), 0, json),
        ("cat | head -c 1".into(), 0, byte),
    ]);
    w.sentinels.assert_intact();
}

#[test]
fn a_closed_stdout_ends_list_verify_cat_and_status_quietly() {
    let Some(w) = World::new() else { return };
    let (listed, large) = big(&w);
    let base = w.base_id();
    let runs = [
        (&["list", "t"][..], 0),
        (&["list", "--json", "t"], 0),
        (&["verify", "t", &base], 0),
        (&["cat", "t", &large, "app.sql"], 0),
        (&["status"], 0),
        (&["status", "--json"], 0),
        // A verify that fails keeps its code (the listed files are not there): the verdict
        // must not turn into a success because nobody read the report.
        (&["verify", "t", &listed], 1),
    ];
    all_quiet(closed_stdout(&w, &runs));
}

/// Runs each of `runs` (args, expected code) with a closed stdout.
fn closed_stdout(w: &World, runs: &[(&[&str], i32)]) -> Vec<(String, i32, std::process::Output)> {
    runs.iter()
        .map(|(args, code)| {
            let out = run_closed(w.cmd(args), DEADLINE, true, false);
            (args.join(" "), *code, out)
        })
        .collect()
}

#[test]
fn a_closed_stdout_ends_prune_check_and_host_key_quietly() {
    let Some(w) = World::new() else { return };
    let runs = [
        (&["prune", "t", "--dry-run"][..], 0),
        (&["check"], 0),
        (&["check", "--connect"], 0),
        (&["host-key", "test"], 0),
    ];
    all_quiet(closed_stdout(&w, &runs));
}

#[test]
fn a_closed_stderr_keeps_the_usual_exit_code() {
    let Some(w) = World::new() else { return };
    let damaged = damaged(&w);
    let target = w.target();
    let runs: Vec<_> = [
        (&["list", "nosuchjob"][..], 2),
        (&["verify", "t", &damaged], 1),
        (
            &[
                "restore",
                "t",
                &damaged,
                "--target",
                target.to_str().unwrap(),
            ],
            1,
        ),
        (&["cat", "t", &damaged, "app.sql"], 1),
        (&["list", "t"], 0),
    ]
    .iter()
    .map(|(args, code)| {
        let out = run_closed(w.cmd(args), DEADLINE, false, true);
        (args.join(" "), *code, out)
    })
    .collect();
    all_quiet(runs);
}

/// Log lines to a pipe or a file carry no colour sequences by default (without `NO_COLOR`).
#[test]
fn log_lines_to_a_pipe_carry_no_ansi_sequences() {
    let Some(w) = World::new() else { return };
    damaged(&w);
    let mut cmd = w.cmd(&["list", "t"]);
    cmd.env_remove("NO_COLOR");
    let out = run_within(cmd, DEADLINE);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARN"));
    assert_no_escape(&out);
}
