//! One history per host: two agents (two host names, two state directories) configured with the
//! same remote path and job. The second one's `run` and `prune` are refused, naming the owner,
//! and change nothing on the server; reading works from both; `{host}` in the path gives each
//! its own history; `run --take-over` hands the history over deliberately. Against a local
//! directory and a real sshd.

mod common;

use std::fs;
use std::path::Path;

use common::hosts::{
    Host, SQL, Server, assert_exit, assert_restores, for_each_server, host, ids, server_state,
    stderr, stdout, tree_and_dump,
};
use common::sample::make_tree;

/// Hosts `alpha` and `beta` backing up the same tree `dir/data` to `path` (as written in the
/// config, maybe with `{host}`); `beta` has `beta_extra` lines in its job.
fn two_hosts(server: Server, dir: &Path, path: &Path, beta_extra: &str) -> (Host, Host) {
    let root = dir.join("data");
    make_tree(&root, 1);
    let path = path.to_str().unwrap();
    let alpha = host(dir, "alpha", server, path, &tree_and_dump(&root, ""));
    let beta = host(dir, "beta", server, path, &tree_and_dump(&root, beta_extra));
    assert_ne!(alpha.state_dir, beta.state_dir);
    (alpha, beta)
}

/// A refused write: exit 1, naming the owner, with the `{host}` hint.
fn assert_refused(out: &std::process::Output, owner: &str, what: &str) {
    assert_exit(out, 1, what);
    let err = stderr(out);
    assert!(
        err.contains(&format!("belongs to host {owner}")),
        "{what}: names the owner\n{err}"
    );
    assert!(err.contains("nothing was written or deleted"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("{host}") && err.contains("--take-over"),
        "{what}: says how to fix it\n{err}"
    );
}

/// `(id, host)` of each snapshot `list` prints.
fn listed_hosts(h: &Host) -> Vec<(String, String)> {
    stdout(&h.ok(&["list", "t"]))
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let id = l.split_whitespace().next().unwrap().to_string();
            let host = l.rsplit_once("host ").map_or("?", |(_, h)| h);
            (id, host.to_string())
        })
        .collect()
}

fn owner_json(job_dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(job_dir.join(".owner")).unwrap()).unwrap()
}

#[test]
fn a_second_host_may_read_the_history_but_not_write_or_prune_it() {
    for_each_server(|server, dir, base| {
        let label = server.label();
        let (alpha, beta) = two_hosts(server, dir, base, "[jobs.t.retention]\nkeep_last = 1");
        alpha.ok(&["run", "t"]);
        alpha.ok(&["run", "t"]);
        let job_dir = base.join("t");
        let made = ids(&job_dir);
        assert_eq!(made.len(), 2);
        assert_eq!(owner_json(&job_dir)["host"], "alpha");
        let before = server_state(base);

        let out = beta.backup(&["run", "t"]);
        assert_refused(&out, "alpha", &format!("{label}: beta's run"));
        assert_eq!(server_state(base), before, "{label}: the run wrote nothing");
        // Its retention would remove the older snapshot; the prune is refused before that.
        let out = beta.backup(&["prune", "t"]);
        assert_refused(&out, "alpha", &format!("{label}: beta's prune"));
        assert_eq!(
            server_state(base),
            before,
            "{label}: the prune deleted nothing"
        );

        // Reading works from any machine.
        let expect: Vec<(String, String)> =
            made.iter().map(|id| (id.clone(), "alpha".into())).collect();
        assert_eq!(listed_hosts(&beta), expect, "{label}");
        let text = stdout(&beta.ok(&["verify", "t", "--all"]));
        assert_eq!(text.matches("intact").count(), 2, "{label}: {text}");
        assert_restores(&beta, "latest", &dir.join("data"), &dir.join("restored"));
        assert_eq!(stdout(&beta.ok(&["cat", "t", &made[0], "app.sql"])), SQL);
        assert_eq!(
            server_state(base),
            before,
            "{label}: reading changed nothing"
        );
    });
}

#[test]
fn with_host_in_the_path_each_host_keeps_its_own_history() {
    for_each_server(|server, dir, base| {
        let label = server.label();
        let (alpha, beta) = two_hosts(
            server,
            dir,
            &base.join("{host}"),
            "[jobs.t.retention]\nkeep_last = 1",
        );
        alpha.ok(&["run", "t"]);
        beta.ok(&["run", "t"]);
        beta.ok(&["run", "t"]);
        let (a, b) = (base.join("alpha/t"), base.join("beta/t"));
        assert_eq!(ids(&a).len(), 1, "{label}");
        assert_eq!(
            ids(&b).len(),
            1,
            "{label}: beta's retention keeps 1 of its own"
        );
        assert_eq!(owner_json(&a)["host"], "alpha", "{label}");
        assert_eq!(owner_json(&b)["host"], "beta", "{label}");
        assert_eq!(listed_hosts(&alpha), [(ids(&a)[0].clone(), "alpha".into())]);
        assert_eq!(listed_hosts(&beta), [(ids(&b)[0].clone(), "beta".into())]);
        beta.ok(&["prune", "t"]);
        assert_eq!(
            ids(&a).len(),
            1,
            "{label}: alpha's history is not beta's to prune"
        );
    });
}

#[test]
fn take_over_hands_the_history_to_the_new_host_and_refuses_the_old_one() {
    for_each_server(|server, dir, base| {
        let label = server.label();
        let (alpha, beta) = two_hosts(server, dir, base, "");
        alpha.ok(&["run", "t"]);
        let job_dir = base.join("t");
        let first = owner_json(&job_dir);

        let out = beta.ok(&["run", "t", "--take-over"]);
        let err = stderr(&out);
        assert!(
            err.contains("taking over") && err.contains("alpha"),
            "{label}: warns\n{err}"
        );
        let owner = owner_json(&job_dir);
        assert_eq!(owner["host"], "beta", "{label}: {owner}");
        let from = owner["took_over_from"].as_str().unwrap_or_default();
        assert!(from.starts_with("alpha"), "{label}: {owner}");
        assert_eq!(
            owner["machine_id"], first["machine_id"],
            "{label}: one machine"
        );
        assert!(owner["since"].is_string(), "{label}: {owner}");

        // Each snapshot shows the host that made it.
        let made = ids(&job_dir);
        assert_eq!(
            listed_hosts(&alpha),
            [
                (made[0].clone(), "alpha".to_string()),
                (made[1].clone(), "beta".to_string())
            ],
            "{label}"
        );
        // Without --take-over again, beta just writes; alpha is refused now.
        beta.ok(&["run", "t"]);
        let before = server_state(base);
        let out = alpha.backup(&["run", "t"]);
        assert_refused(&out, "beta", &format!("{label}: alpha after the takeover"));
        let out = alpha.backup(&["prune", "t"]);
        assert_refused(&out, "beta", &format!("{label}: alpha's prune"));
        assert_eq!(server_state(base), before, "{label}");
        assert_eq!(ids(&job_dir).len(), 3, "{label}");
    });
}
