//! Who may change a history: the owner recorded in `.owner`, and the lock `.lock` that a run
//! or prune holds while it changes the history (its JSON: host, machine_id, pid, started_at,
//! refreshed_at; stale when not refreshed for ten minutes).

use chrono::{Duration, Utc};
use serde_json::json;

use backup_agent::repository::{Owner, RepoError, Repository};

use crate::harness::{Target, disk_names, for_each_remote};
use crate::history::{JOB, repo};

fn owner(host: &str) -> Owner {
    Owner {
        host: host.into(),
        machine_id: format!("{host}-machine-id"),
        since: None,
        took_over_from: None,
    }
}

/// Writes `.lock` as another agent would have, refreshed `age` ago.
fn write_lock(t: &Target, host: &str, age: Duration) {
    let at = Utc::now() - age;
    let info = json!({
        "host": host, "machine_id": "elsewhere", "pid": 4242,
        "started_at": at - Duration::minutes(5), "refreshed_at": at,
    });
    std::fs::write(t.disk(&format!("{JOB}/.lock")), info.to_string()).unwrap();
}

fn on_disk(t: &Target, name: &str) -> serde_json::Value {
    let text = std::fs::read(t.disk(&format!("{JOB}/{name}"))).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// `who` may not lock: the history belongs to `host`, and the error says so.
async fn not_owner(t: &Target, repo: &Repository, who: &Owner, host: &str) {
    match repo.lock_for_write(who, false).await {
        Err(e @ RepoError::NotOwner { .. }) => {
            let RepoError::NotOwner { owner, .. } = &e else {
                unreachable!()
            };
            assert_eq!(owner.host, host, "{}", t.name);
            let text = e.to_string();
            assert!(
                text.contains(&format!("belongs to host {host}")),
                "{}: {text}",
                t.name
            );
        }
        other => panic!("{}: {:?}", t.name, other.map(drop)),
    }
}

async fn another_owner_is_refused(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let (a, b) = (owner("host-a"), owner("host-b"));
    let lock = repo.lock_for_write(&a, false).await.unwrap();
    assert_eq!(on_disk(t, ".owner")["host"], "host-a", "{}", t.name);
    not_owner(t, &repo, &b, "host-a").await;
    lock.release().await;
    not_owner(t, &repo, &b, "host-a").await;
    assert_eq!(disk_names(t, JOB), [".owner"], "{}", t.name);
}

async fn a_held_lock_refuses_the_same_owner(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let a = owner("host-a");
    let first = repo.lock_for_write(&a, false).await.unwrap();
    // Another process holds it now: written by another host, refreshed a moment ago.
    write_lock(t, "host-elsewhere", Duration::seconds(5));
    match repo.lock_for_write(&a, false).await {
        Err(RepoError::Locked { holder, .. }) => {
            assert!(holder.contains("host-elsewhere"), "{}: {holder}", t.name)
        }
        other => panic!("{}: {:?}", t.name, other.map(drop)),
    }
    assert_eq!(on_disk(t, ".lock")["host"], "host-elsewhere", "{}", t.name);
    first.release().await;
}

async fn a_stale_lock_is_taken_over(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let a = owner("host-a");
    repo.lock_for_write(&a, false)
        .await
        .unwrap()
        .release()
        .await;
    write_lock(t, "host-gone", Duration::minutes(11));
    let lock = repo.lock_for_write(&a, false).await.unwrap();
    let held = on_disk(t, ".lock");
    assert_eq!(
        (&held["host"], &held["pid"]),
        (&json!("host-a"), &json!(std::process::id()))
    );
    assert_eq!(
        disk_names(t, JOB),
        [".lock", ".owner"],
        "{}: the stale lock is gone",
        t.name
    );
    lock.release().await;
    assert_eq!(disk_names(t, JOB), [".owner"], "{}", t.name);
}

async fn take_over_records_the_new_owner(t: &Target) {
    let repo = repo(t, t.remote.clone());
    let (a, b) = (owner("host-a"), owner("host-b"));
    repo.lock_for_write(&a, false)
        .await
        .unwrap()
        .release()
        .await;
    repo.lock_for_write(&b, true).await.unwrap().release().await;
    let recorded = on_disk(t, ".owner");
    assert_eq!(recorded["host"], "host-b", "{}", t.name);
    let from = recorded["took_over_from"].as_str().unwrap_or_default();
    assert!(from.contains("host-a"), "{}: {recorded}", t.name);
    not_owner(t, &repo, &a, "host-b").await;
}

for_each_remote!(
    another_owner_is_refused,
    a_held_lock_refuses_the_same_owner,
    a_stale_lock_is_taken_over,
    take_over_records_the_new_owner,
);
