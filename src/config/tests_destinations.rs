//! `remote` / `remotes` and per-destination retention, as `config::load` resolves them.
// Test-only: the parent declares this module under #[cfg(test)].

use super::{Config, ConfigError, load};

const HEAD: &str = "[remotes.offsite]\nhost = \"127.0.0.1\"\nuser = \"u\"\nidentity_file = \"/k\"\n\
    known_hosts = \"/kh\"\npath = \"/b\"\n\
    [remotes.nas]\ntype = \"local\"\npath = \"/srv/nas\"\n\
    [remotes.usb]\ntype = \"local\"\npath = \"/mnt/usb\"\n";

fn load_job(job: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!("{HEAD}[jobs.db]\nsources = [\"/etc\"]\n{job}"),
    )
    .unwrap();
    load(&path)
}

#[test]
fn remotes_lists_destinations_in_order_with_their_own_retention() {
    let cfg = load_job(
        "remotes = [\"nas\", \"offsite\", \"usb\"]\n[jobs.db.retention]\nkeep_daily = 7\n\
         [jobs.db.retention.offsite]\nkeep_daily = 30\nkeep_monthly = 12\n",
    )
    .unwrap();
    let j = &cfg.jobs["db"];
    assert_eq!(j.destination_names(), ["nas", "offsite", "usb"]);
    assert_eq!(j.remote.name, "nas");
    assert_eq!(j.retention.keep_daily, 7);
    let offsite = j.at_remote("offsite").unwrap();
    assert_eq!(offsite.remote.name, "offsite");
    assert_eq!(
        (offsite.retention.keep_daily, offsite.retention.keep_monthly),
        (30, 12)
    );
    assert_eq!(offsite.destinations.len(), 1);
    assert_eq!(j.at_remote("usb").unwrap().retention.keep_daily, 7);
    assert!(j.at_remote("elsewhere").is_none());
}

#[test]
fn one_remote_is_one_destination() {
    let cfg = load_job("remote = \"offsite\"\n").unwrap();
    assert_eq!(cfg.jobs["db"].destination_names(), ["offsite"]);
}

#[test]
fn destination_mistakes_name_the_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "remote = \"nas\"\nremotes = [\"usb\"]\n",
            "jobs.db.remote",
            "both `remote` and `remotes`",
        ),
        ("remotes = []\n", "jobs.db.remotes", "remotes is empty"),
        (
            "remotes = [\"nas\", \"cloud\"]\n",
            "jobs.db.remotes",
            "unknown remote \"cloud\"",
        ),
        (
            "remotes = [\"nas\", \"nas\"]\n",
            "jobs.db.remotes",
            "listed twice",
        ),
        (
            "remotes = [\"nas\"]\n[jobs.db.retention.usb]\nkeep_last = 1\n",
            "jobs.db.retention.usb",
            "not one of this job's destinations",
        ),
        (
            "remotes = [\"nas\"]\n[jobs.db.retention.nas]\nkeep_dayly = 1\n",
            "jobs.db.retention.nas",
            "unknown field",
        ),
        ("", "jobs.db", "no destination"),
    ];
    for (job, key, says) in cases {
        let e = load_job(job).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(*key), "{job}: {e}");
        assert!(e.message.contains(says), "{job}: {e}");
    }
}

#[test]
fn two_names_for_one_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[remotes.a]\ntype = \"local\"\npath = \"/srv/x\"\n[remotes.b]\ntype = \"local\"\npath = \"/srv/x/\"\n\
         [jobs.db]\nsources = [\"/etc\"]\nremotes = [\"a\", \"b\"]\n",
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert!(e.message.contains("same directory"), "{e}");
}
