//! The vault's rotation against an attacker and through failures, on the README's recipe
//! with a real sshd (issue 14): well-formed snapshots uploaded with the client's key under
//! ids far in the past, far in the future and fifty within a minute, plus garbage named like
//! ids, are all kept and marked while retention keeps exactly what the policy keeps of the
//! real history; a crashed upload and a `check --connect` scratch directory are removed once
//! the grace period has passed and not before; `backup vault watch` seals within its delay
//! and stops on SIGTERM; the metrics say what happened.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::daemon::{Daemon, wait_for};
use common::recipe::Recipe;
use common::{backup, describe, names};

fn recipe() -> Option<Recipe> {
    let r = Recipe::start("");
    if r.is_none() && common::require_sshd() && nix::unistd::geteuid().is_root() {
        panic!("the append-only recipe cannot run here");
    }
    r
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", describe(out));
}

fn id_at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

#[test]
fn fakes_in_the_past_the_future_and_a_flood_are_marked_and_push_out_nothing() {
    let Some(r) = recipe() else { return };
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), "real\n").unwrap();
    let cfg = r.agent_config(&src, "");
    let job = r.job_dir();
    ok(&backup(&cfg, &["run", "t"]), "first real run");
    let real1 = names(&job)
        .into_iter()
        .find(|n| !n.starts_with('.'))
        .unwrap();

    // Well-formed copies of the real snapshot under the attacker's ids.
    let now = chrono::Utc::now();
    let mut fakes = vec![
        "20200101T020000Z".to_string(),
        "20990101T020000Z".to_string(),
    ];
    let flood_start = now - chrono::Duration::minutes(90);
    fakes.extend((0..50).map(|i| id_at(flood_start + chrono::Duration::seconds(i))));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(job.join(&real1).join("manifest.json")).unwrap()).unwrap();
    let stage = d.path().join("stage");
    fs::create_dir_all(&stage).unwrap();
    let mut batch = String::new();
    for id in &fakes {
        let mut m = manifest.clone();
        m["snapshot"] = serde_json::Value::String(id.clone());
        let local = stage.join(id);
        fs::write(&local, serde_json::to_vec(&m).unwrap()).unwrap();
        batch += &format!(
            "mkdir /upload/db01/t/{id}\nput {} /upload/db01/t/{id}/files.tar.zst\nput {} /upload/db01/t/{id}/SHA256SUMS\nput {} /upload/db01/t/{id}/manifest.json\n",
            job.join(&real1).join("files.tar.zst").display(),
            job.join(&real1).join("SHA256SUMS").display(),
            local.display()
        );
    }
    // Garbage named like ids: a manifest that is no manifest, and a directory without one.
    let garbage = id_at(now - chrono::Duration::minutes(200));
    let empty = id_at(now - chrono::Duration::minutes(201));
    fs::write(stage.join("junk"), "{ not a manifest").unwrap();
    batch += &format!(
        "mkdir /upload/db01/t/{garbage}\nput {} /upload/db01/t/{garbage}/manifest.json\nmkdir /upload/db01/t/{empty}\n",
        stage.join("junk").display()
    );
    ok(&r.sftp(&batch), "the attacker's uploads");

    std::thread::sleep(Duration::from_millis(1100));
    ok(&backup(&cfg, &["run", "t"]), "second real run");
    std::thread::sleep(Duration::from_millis(1100));
    ok(&backup(&cfg, &["run", "t"]), "third real run");
    let reals: Vec<String> = names(&job)
        .into_iter()
        .filter(|n| !n.starts_with('.') && !fakes.contains(n) && *n != garbage && *n != empty)
        .collect();
    assert_eq!(reals.len(), 3, "{reals:?}");

    let vault = r.vault_config("", "[vault.retention]\nkeep_last = 2\n");
    let out = backup(&vault, &["vault", "run"]);
    ok(&out, "vault run");
    let left = names(&job);
    // The policy on the real history: the two newest real snapshots, and only they go.
    assert!(!left.contains(&reals[0]), "{left:?}");
    assert!(
        left.contains(&reals[1]) && left.contains(&reals[2]),
        "{left:?}"
    );
    for f in fakes.iter().chain([&garbage, &empty]) {
        assert!(left.contains(f), "{f} was removed: {}", describe(&out));
    }
    let status = backup(&vault, &["vault", "status", "--json"]);
    ok(&status, "vault status --json");
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let snaps = &st["repositories"]["upload/db01/t"]["snapshots"];
    let of = |id: &str| snaps[id]["status"].as_str().unwrap_or("absent").to_string();
    assert_eq!(of(&reals[1]), "sealed");
    assert_eq!(of(&reals[2]), "sealed");
    for f in &fakes {
        assert_eq!(of(f), "suspicious", "{f}: {}", snaps[f]);
    }
    assert_eq!(of(&garbage), "damaged");
    assert!(
        snaps[&fakes[0]]["reason"]
            .as_str()
            .unwrap()
            .contains("before the server recorded")
    );
    assert!(
        snaps[&fakes[1]]["reason"]
            .as_str()
            .unwrap()
            .contains("future")
    );
    assert!(
        snaps[&fakes[2]]["reason"]
            .as_str()
            .unwrap()
            .contains("flood: 50 snapshots")
    );
    // Marked snapshots are sealed too: the attacker cannot take them back.
    let m = fs::metadata(job.join(&fakes[0]).join("manifest.json")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (r.vault_uid, 0o444));

    // A second pass changes nothing: marks are never lifted, nothing more is removed.
    ok(&backup(&vault, &["vault", "run"]), "second vault run");
    assert_eq!(names(&job), left);
    let text = String::from_utf8_lossy(&backup(&vault, &["vault", "status"]).stdout).to_string();
    assert!(
        text.contains("upload/db01/t: 2 sealed, 1 damaged, 52 suspicious"),
        "{text}"
    );
}

#[test]
fn leftovers_go_after_the_grace_period_and_watch_seals_within_its_delay() {
    let Some(r) = recipe() else { return };
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.txt"), "data\n").unwrap();
    let marker = d.path().join("dump-may-run");
    let cfg = r.agent_config(
        &src,
        &format!(
            "[[jobs.t.commands]]\nname = \"dump.sql\"\nmin_bytes = 0\nrun = [\"sh\", \"-c\", \"test -e $0 || exit 7\", {}]\n",
            common::toml_str(&marker.to_string_lossy())
        ),
    );
    let job = r.job_dir();
    // A crashed run: its `<id>/` has no manifest; and a probe's scratch directory.
    assert_eq!(backup(&cfg, &["run", "t"]).status.code(), Some(1));
    ok(&backup(&cfg, &["check", "--connect"]), "check --connect");
    let crashed: Vec<String> = names(&job)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(crashed.len(), 1);
    let probes = || {
        names(&r.upload.join("db01"))
            .into_iter()
            .filter(|n| n.starts_with(".backup-agent-probe-"))
            .count()
    };
    assert_eq!(probes(), 1);

    let vault = r.vault_config("grace = \"4s\"\nseal_delay = \"2s\"", "");
    let out = backup(&vault, &["vault", "run"]);
    ok(&out, "first vault run");
    assert!(
        job.join(&crashed[0]).exists() && probes() == 1,
        "{}",
        describe(&out)
    );
    std::thread::sleep(Duration::from_millis(4200));
    let out = backup(&vault, &["vault", "run"]);
    ok(&out, "vault run after the grace period");
    assert!(!job.join(&crashed[0]).exists(), "{}", describe(&out));
    assert_eq!(probes(), 0, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 cleaned"),
        "{}",
        describe(&out)
    );

    // The agent backs up again; the watching vault seals it within seal_delay.
    let mut watch = Daemon::start_args(&vault, &["vault", "watch"], d.path().join("watch.log"));
    fs::write(&marker, "").unwrap();
    ok(&backup(&cfg, &["run", "t"]), "run after the cleanup");
    let id = names(&job)
        .into_iter()
        .find(|n| !n.starts_with('.'))
        .unwrap();
    let sealed = wait_for(Duration::from_secs(10), || {
        fs::metadata(job.join(&id).join("manifest.json")).is_ok_and(|m| m.uid() == r.vault_uid)
    });
    assert!(sealed, "not sealed: {}", watch.log());
    watch.signal(libc::SIGTERM);
    assert_eq!(
        watch.wait(Duration::from_secs(10)),
        Some(0),
        "{}",
        watch.log()
    );

    let prom = fs::read_to_string(r.top.join("vault-state/vault.prom")).unwrap();
    for line in [
        "backup_vault_snapshots{repository=\"upload/db01/t\",state=\"sealed\"} 1",
        "backup_vault_cleaned_total{repository=\"upload/db01/t\"} 1",
        "backup_vault_last_pass_success 1",
    ] {
        assert!(prom.contains(line), "{line} not in:\n{prom}");
    }
}
