//! Builds 1 and 4, a manifest's own fields pointing elsewhere: a snapshot's identity comes from
//! its directory name, and a manifest whose `snapshot` or `job` names another snapshot, another
//! job or a path makes that snapshot damaged, never a pointer to follow. The other job's
//! history (on the same server) is neither read nor changed, and `restore latest` falls back
//! to the newest intact snapshot saying why.

use std::fs;

use backup_agent::layout::escape;

use super::world::World;
use crate::common::bounded::assert_reported;
use crate::common::surgery::edit_manifest;

#[test]
fn a_manifest_naming_another_snapshot_or_job_marks_its_snapshot_damaged() {
    let Some(mut w) = World::new() else { return };
    let base_id = w.base_id();

    // Another job's history beside this one, with a snapshot of its own (watched).
    let other = w.sshd.remote_dir().join("other");
    fs::create_dir(&other).unwrap();
    let (theirs_id, theirs) = w.copy(-60);
    fs::rename(&theirs, other.join(&theirs_id)).unwrap();
    edit_manifest(&other.join(&theirs_id), |m| m.job = "other".into());
    w.sentinels.watch(&other);

    // (manifest.snapshot, manifest.job, what the message must say)
    let cases: Vec<(String, String, String)> = vec![
        (
            base_id.clone(),
            "t".into(),
            format!("names snapshot \"{base_id}\""),
        ),
        (theirs_id.clone(), "other".into(), "names snapshot".into()),
        (String::new(), "other".into(), "names job \"other\"".into()),
        (
            format!("../other/{theirs_id}"),
            "t".into(),
            escape(&format!("../other/{theirs_id}")),
        ),
        (
            String::new(),
            "../other".into(),
            "names job \"../other\"".into(),
        ),
        (String::new(), "t\u{1b}[8m".into(), escape("t\u{1b}[8m")),
    ];
    let mut ids = Vec::new();
    for (i, (snapshot, job, said)) in cases.iter().enumerate() {
        let (id, snap) = w.copy(i as i64 + 1);
        edit_manifest(&snap, |m| {
            if !snapshot.is_empty() {
                m.snapshot = snapshot.clone();
            }
            m.job = job.clone();
        });
        w.refuses(&id, &["damaged", said]);
        ids.push(id);
    }
    let damaged: Vec<&str> = ids.iter().map(String::as_str).collect();
    w.lists(&[&base_id], &damaged);
    w.verify_all_names(&damaged);
    let listed = String::from_utf8_lossy(&w.run(&["list", "t"]).stdout).into_owned();
    assert!(
        !listed.lines().any(|l| l.starts_with(&theirs_id)),
        "the other job's snapshot is listed as this job's:\n{listed}"
    );

    let (out, target) = w.restore("latest");
    assert_reported(&out, 0, &[ids.last().unwrap(), "damaged", &base_id]);
    let back = target.join(w.root.strip_prefix("/").unwrap());
    assert_eq!(
        fs::read(back.join("d/f.txt")).unwrap(),
        "hello\n".repeat(100).as_bytes()
    );
    let out = w.run(&["cat", "t", "latest", "app.sql"]);
    assert_reported(&out, 0, &[]);
    assert_eq!(out.stdout, b"select 1;\n");
    w.sentinels.assert_intact();
}
