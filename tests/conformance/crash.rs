//! A crash at each step of the commit protocol and of a deletion: the run is cut off after
//! its first `n` remote calls (for n = 0, 1, 2, ... until it gets through), either as the
//! call starts (a create then leaves a file cut short) or after the call took effect with its
//! answer lost. The pending state is dropped without cleanup, as a killed process would.
//! After each crash: committed snapshots are unchanged and intact, nothing half-written lists
//! as a snapshot, at most one `.partial`/`.deleting` is left, and the next `begin` (or
//! `finish_deletions`) removes it.

use std::collections::BTreeSet;
use std::sync::Arc;

use backup_agent::layout::SnapshotId;
use backup_agent::remote::Remote;
use backup_agent::repository::{Pending, RepoError, Repository};

use crate::faulty::{Crash, Faulty};
use crate::harness::{Target, for_each_remote};
use crate::history::{JOB, committed, intact, leftovers, make_snapshot, repo, sample};

/// More calls than any protocol here makes: a loop that gets this far never got through.
const MAX_CALLS: usize = 60;

/// What a crash left beside the committed snapshots: a `.partial` or a `.deleting`.
pub struct Left {
    pub kind: &'static str,
    pub id: SnapshotId,
    /// The names in it.
    pub inside: Vec<String>,
}

/// What is left beside the committed snapshots: one `.partial` or `.deleting` at most. A
/// commit that moved files one by one also leaves the `<id>/` it moved them to, without a
/// manifest; it counts with its `.<id>.partial`.
fn leftover(t: &Target) -> Option<Left> {
    let mut left = leftovers(t);
    if let [(partial, _), (unfinished, moved)] = &left[..]
        && *partial == format!(".{unfinished}.partial")
    {
        assert!(!moved.contains(&"manifest.json".to_string()), "{}", t.name);
        left.pop();
    }
    assert!(
        left.len() <= 1,
        "{}: more than one leftover: {left:?}",
        t.name
    );
    let (name, inside) = left.into_iter().next()?;
    let kind = ["partial", "deleting"]
        .into_iter()
        .find(|k| name.ends_with(&format!(".{k}")));
    let id = name
        .strip_prefix('.')
        .and_then(|n| n.split('.').next())
        .and_then(SnapshotId::parse);
    match (kind, id) {
        (Some(kind), Some(id)) => Some(Left { kind, id, inside }),
        _ => panic!("{}: {name} left, holding {inside:?}", t.name),
    }
}

/// The snapshots `keep` are still listed, unchanged and intact, and whatever else lists is
/// intact too (read back: quicker here than `sha256sum` over a new SSH channel each time); the
/// ids listed.
async fn survived(t: &Target, healthy: &Repository, keep: &[SnapshotId]) -> Vec<SnapshotId> {
    let ids = intact(t, healthy, true).await;
    for id in keep {
        assert!(ids.contains(id), "{}: snapshot {id} vanished", t.name);
        let on_disk = std::fs::read(t.disk(&format!("{JOB}/{id}/files.tar.zst"))).unwrap();
        assert!(
            on_disk == sample(1)[0].1,
            "{}: snapshot {id} changed",
            t.name
        );
    }
    ids
}

/// Runs `step` against remotes that crash after 0, 1, 2, ... calls, in both ways, calling
/// `after` with what each crash left, until `step` gets through.
async fn at_every_step<S, A>(t: &Target, wrap: impl Fn(usize, Crash) -> Faulty, step: S, after: A)
where
    S: AsyncFn(&Repository) -> Result<(), RepoError>,
    A: AsyncFn(Option<Left>),
{
    for crash in [Crash::Cut, Crash::Lost] {
        let mut n = 0;
        loop {
            let faulty: Arc<dyn Remote> = Arc::new(wrap(n, crash));
            let done = step(&repo(t, faulty)).await;
            after(leftover(t)).await;
            if done.is_ok() {
                break;
            }
            n += 1;
            assert!(n < MAX_CALLS, "{}: {crash:?}: never got through", t.name);
        }
    }
}

/// The leftover `.partial` of each step a commit goes through, as the crashes found them.
fn commit_stages() -> [Vec<String>; 4] {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    [
        names(&[]),
        names(&["files.tar.zst"]),
        names(&["SHA256SUMS", "app.sql.zst", "files.tar.zst"]),
        names(&[
            "SHA256SUMS",
            "app.sql.zst",
            "files.tar.zst",
            "manifest.json",
        ]),
    ]
}

/// A crash at each step of a commit, with `wrap` putting the crash around the remote.
pub async fn crash_every_commit_step(t: &Target, wrap: impl Fn(usize, Crash) -> Faulty) {
    let healthy = repo(t, t.remote.clone());
    let keep = committed(t, &healthy, 1).await;
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let step = async |r: &Repository| make_snapshot(r, &sample(5)).await.map(drop);
    let crashes = std::cell::Cell::new(0);
    let after = async |left: Option<Left>| {
        for id in survived(t, &healthy, &[keep]).await {
            if id != keep {
                // The rename took effect and only its answer was lost: a whole snapshot.
                healthy.delete(id).await.unwrap();
            }
        }
        let Some(left) = left else { return };
        assert_eq!(left.kind, "partial", "{}", t.name);
        seen.borrow_mut().insert(left.inside);
        crashes.set(crashes.get() + 1);
        if crashes.get() % 2 == 0 {
            // A run that saw its failure cleans up after itself (job/run.rs).
            let path = healthy.dir().partial(left.id);
            healthy
                .abandon(&Pending {
                    id: left.id,
                    path,
                    warnings: Vec::new(),
                })
                .await;
            assert_eq!(leftovers(t), [], "{}: abandon left something", t.name);
            return;
        }
        let next = healthy.begin().await.unwrap();
        let fresh = (format!(".{}.partial", next.id), vec![]);
        let left = leftovers(t);
        assert_eq!(left, [fresh], "{}: the next begin left the old one", t.name);
        healthy.remove_partial(next.id).await.unwrap();
    };
    at_every_step(t, wrap, step, after).await;
    for stage in commit_stages() {
        assert!(
            seen.borrow().contains(&stage),
            "{}: no crash left {stage:?}",
            t.name
        );
    }
}

async fn commit_survives_a_crash_at_every_step(t: &Target) {
    let remote = t.remote.clone();
    crash_every_commit_step(t, |n, crash| Faulty::crash_after(remote.clone(), n, crash)).await;
}

async fn delete_survives_a_crash_at_every_step(t: &Target) {
    let healthy = repo(t, t.remote.clone());
    let keep = committed(t, &healthy, 1).await;
    let victim = std::cell::Cell::new(committed(t, &healthy, 2).await);
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let remote = t.remote.clone();
    let wrap = |n, crash| Faulty::crash_after(remote.clone(), n, crash);
    let step = async |r: &Repository| r.delete(victim.get()).await;
    let after = async |left: Option<Left>| {
        let before = survived(t, &healthy, &[keep]).await;
        if let Some(Left { kind, id, inside }) = left {
            assert_eq!((kind, id), ("deleting", victim.get()), "{}", t.name);
            assert!(
                !before.contains(&victim.get()),
                "{}: listed while deleting",
                t.name
            );
            seen.borrow_mut().insert(inside);
            assert_eq!(
                healthy.finish_deletions().await.unwrap(),
                (vec![victim.get()], vec![])
            );
            assert_eq!(leftovers(t), [], "{}", t.name);
        }
        if !survived(t, &healthy, &[keep]).await.contains(&victim.get()) {
            victim.set(committed(t, &healthy, 2).await);
        }
    };
    at_every_step(t, wrap, step, after).await;
    let whole = [
        "SHA256SUMS",
        "app.sql.zst",
        "files.tar.zst",
        "manifest.json",
    ];
    let whole: Vec<String> = whole.iter().map(|s| s.to_string()).collect();
    assert!(
        seen.borrow().contains(&whole),
        "{}: no crash right after the rename",
        t.name
    );
}

for_each_remote!(
    commit_survives_a_crash_at_every_step,
    delete_survives_a_crash_at_every_step,
);
