//! The commit protocol through `Repository`: begin, stream into `.partial`, verify, commit;
//! what lists, resolves and verifies afterwards; deletion; ids that never repeat.

use backup_agent::config::VerifyMode;
use backup_agent::repository::RepoError;
use backup_agent::repository::verify::check_files;

use crate::harness::{Target, disk_names, for_each_remote};
use crate::history::{
    JOB, assert_snapshot_files, expected_method, intact, leftovers, manifest, repo, sample, upload,
};

async fn commit_makes_a_verified_snapshot(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let pending = repo.begin().await.unwrap();
    let partial = format!(".{}.partial", pending.id);
    assert_eq!(disk_names(t, JOB), [partial], "{}", t.name);
    let files = upload(&repo, &pending, &sample(10)).await.unwrap();
    let checked = check_files(t.remote.as_ref(), &pending.path, &files, VerifyMode::Auto)
        .await
        .unwrap();
    assert_eq!(
        checked.problems().count(),
        0,
        "{}: {:?}",
        t.name,
        checked.files
    );
    assert_eq!(checked.method.as_str(), expected_method(t), "{}", t.name);
    // Nothing lists before the commit.
    assert_eq!(
        repo.listing().await.unwrap().snapshots.len(),
        0,
        "{}",
        t.name
    );
    let m = manifest(&pending, files, checked.method);
    repo.commit(&pending, &m).await.unwrap();

    let id = pending.id.to_string();
    assert_eq!(disk_names(t, JOB), std::slice::from_ref(&id), "{}", t.name);
    assert_snapshot_files(t, pending.id);
    assert_eq!(intact(t, &repo, false).await, [pending.id], "{}", t.name);
    let latest = repo.resolve("latest").await.unwrap();
    assert_eq!(
        (latest.id, &latest.manifest),
        (pending.id, &m),
        "{}",
        t.name
    );
    assert_eq!(
        repo.resolve(&id).await.unwrap().id,
        pending.id,
        "{}",
        t.name
    );
    let readback = repo.check(&latest, true).await.unwrap();
    assert!(
        readback.is_ok() && readback.method == "readback",
        "{}: {readback:?}",
        t.name
    );
    for missing in ["20000101T000000Z", "yesterday"] {
        let e = repo.resolve(missing).await.unwrap_err();
        assert!(
            matches!(e, RepoError::NoSnapshot { .. }),
            "{}: {missing}: {e}",
            t.name
        );
    }
}

async fn a_second_begin_gets_a_later_id(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let first = crate::history::committed(t, &repo, 20).await;
    // Most often still within the second the first run began in.
    let second = repo.begin().await.unwrap();
    assert!(second.id > first, "{}: {} after {first}", t.name, second.id);
    let third = repo.begin().await.unwrap();
    assert!(third.id >= second.id, "{}", t.name);
    // Each begin removed the `.partial` the one before left.
    assert_eq!(
        leftovers(t),
        [(format!(".{}.partial", third.id), vec![])],
        "{}",
        t.name
    );
    repo.remove_partial(third.id).await.unwrap();
    assert_eq!(disk_names(t, JOB), [first.to_string()], "{}", t.name);
}

async fn delete_removes_a_snapshot(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let old = crate::history::committed(t, &repo, 30).await;
    let new = crate::history::committed(t, &repo, 40).await;
    assert_eq!(intact(t, &repo, false).await, [old, new], "{}", t.name);
    repo.delete(old).await.unwrap();
    assert_eq!(intact(t, &repo, false).await, [new], "{}", t.name);
    assert_eq!(disk_names(t, JOB), [new.to_string()], "{}", t.name);
    assert_eq!(
        repo.finish_deletions().await.unwrap(),
        (vec![], vec![]),
        "{}",
        t.name
    );
    repo.delete(new).await.unwrap();
    assert_eq!(disk_names(t, JOB), Vec::<String>::new(), "{}", t.name);
    let e = repo.resolve("latest").await.unwrap_err();
    assert!(matches!(e, RepoError::NoSnapshot { .. }), "{}: {e}", t.name);
}

for_each_remote!(
    commit_makes_a_verified_snapshot,
    a_second_begin_gets_a_later_id,
    delete_removes_a_snapshot,
);
