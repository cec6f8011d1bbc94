//! Remotes that cannot do everything: one that refuses to rename directories still commits,
//! file by file (also through a crash at each step); one that cannot hash is verified by
//! reading back under `auto`, and fails `remote-hash`.

use std::sync::Arc;

use backup_agent::config::VerifyMode;
use backup_agent::remote::{ErrorKind, Remote};
use backup_agent::repository::verify::check_files;

use crate::common::sample::flip_byte;
use crate::crash::crash_every_commit_step;
use crate::faulty::Faulty;
use crate::harness::{Target, for_each_remote};
use crate::history::{
    JOB, assert_snapshot_files, committed, intact, leftovers, repo, sample, upload,
};

async fn commit_moves_files_one_by_one_without_directory_renames(t: &Target) {
    for refusal in [ErrorKind::Unsupported, ErrorKind::PermissionDenied] {
        let faulty = Arc::new(Faulty::no_dir_rename(t.remote.clone(), refusal));
        assert!(!faulty.capabilities().rename_dirs);
        let id = committed(t, &repo(t, faulty), 50).await;
        let healthy = repo(t, t.remote.clone());
        assert!(
            intact(t, &healthy, false).await.contains(&id),
            "{}: {refusal:?}",
            t.name
        );
        assert_snapshot_files(t, id);
        assert_eq!(leftovers(t), [], "{}: {refusal:?}", t.name);
        healthy.delete(id).await.unwrap();
    }
}

async fn one_by_one_commit_survives_a_crash_at_every_step(t: &Target) {
    let remote = t.remote.clone();
    crash_every_commit_step(t, |n, crash| {
        Faulty::no_dir_rename(remote.clone(), ErrorKind::Unsupported).and_crash_after(n, crash)
    })
    .await;
}

async fn verify_reads_back_where_the_remote_cannot_hash(t: &Target) {
    let faulty: Arc<dyn Remote> = Arc::new(Faulty::no_hash(t.remote.clone()));
    assert!(!faulty.capabilities().hash);
    let repo = repo(t, faulty.clone());
    let pending = repo.begin().await.unwrap();
    let files = upload(&repo, &pending, &sample(60)).await.unwrap();
    let remote = faulty.as_ref();
    let auto = check_files(remote, &pending.path, &files, VerifyMode::Auto)
        .await
        .unwrap();
    assert_eq!(auto.method, VerifyMode::Readback, "{}", t.name);
    assert_eq!(auto.problems().count(), 0, "{}: {:?}", t.name, auto.files);
    let e = check_files(remote, &pending.path, &files, VerifyMode::RemoteHash)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{}: {e}", t.name);
    // Readback finds what the server changed.
    flip_byte(&t.disk(&format!("{JOB}/.{}.partial/app.sql.zst", pending.id)));
    let auto = check_files(remote, &pending.path, &files, VerifyMode::Auto)
        .await
        .unwrap();
    let problems: Vec<&String> = auto.problems().collect();
    assert_eq!(problems.len(), 1, "{}: {problems:?}", t.name);
    assert!(
        problems[0].starts_with("app.sql.zst: SHA-256"),
        "{}: {problems:?}",
        t.name
    );
}

for_each_remote!(
    commit_moves_files_one_by_one_without_directory_renames,
    one_by_one_commit_survives_a_crash_at_every_step,
    verify_reads_back_where_the_remote_cannot_hash,
);
