//! `backup check` without the network: everything on this machine a run needs, each problem
//! with the place of its setting and the command that fixes it. Every problem is collected, so
//! one check shows all a new host lacks. The rules are the ones a run applies (the secret file
//! rule, the known_hosts matching), called here rather than restated.

use std::path::Path;

use super::program::{install_fix, program};
use crate::config::{Config, HostKeyCheck, JobConfig, Place, SftpConfig};
use crate::remote::{RemoteError, known_hosts, sftp};

/// Something a run would trip over.
#[derive(Debug)]
pub struct Problem {
    pub at: Place,
    /// The dotted setting, e.g. `remotes.offsite.identity_file`.
    pub key: String,
    pub message: String,
    pub fix: String,
}

/// What a run would only warn about.
#[derive(Debug)]
pub struct Note {
    pub at: Place,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<Problem>,
    pub notes: Vec<Note>,
}

impl Findings {
    fn problem(&mut self, at: &Place, key: String, message: String, fix: String) {
        self.problems.push(Problem {
            at: at.clone(),
            key,
            message,
            fix,
        });
    }
}

pub fn check(cfg: &Config) -> Findings {
    let mut f = Findings::default();
    for r in cfg.remotes.values() {
        if let Some(s) = r.sftp() {
            identity(&mut f, s);
            host_key(&mut f, s);
        }
    }
    for j in cfg.jobs.values() {
        job(&mut f, j);
    }
    state_dir(&mut f, cfg);
    f
}

fn user_name() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// The key and its passphrase file, by the loader a connection uses: present, readable, only
/// owner-readable, and a key it can decrypt.
fn identity(f: &mut Findings, s: &SftpConfig) {
    let key = format!("remotes.{}.identity_file", s.name);
    let path = &s.identity_file;
    if !path.exists() {
        let fix = format!(
            "create a key with `ssh-keygen -t ed25519 -N '' -f {}` and add {}.pub to the authorized_keys of {} on {}",
            path.display(),
            path.display(),
            s.user,
            s.host
        );
        let message = format!("private key {} does not exist", path.display());
        return f.problem(&s.identity_file_at, key, message, fix);
    }
    if let Err(e) = fs_err::File::open(path) {
        let message = format!(
            "private key {} cannot be read by user {}: {}",
            path.display(),
            user_name(),
            e.kind()
        );
        let fix = format!("`chown {} {}` (mode 600)", user_name(), path.display());
        return f.problem(&s.identity_file_at, key, message, fix);
    }
    if let Err(RemoteError::Identity {
        path: bad,
        message,
        hint,
    }) = sftp::load_identity(s)
    {
        let (at, key) = match &s.identity_passphrase_file {
            Some((p, at)) if *p == bad => {
                (at, format!("remotes.{}.identity_passphrase_file", s.name))
            }
            _ => (&s.identity_file_at, key),
        };
        f.problem(at, key, message, hint);
    }
}

fn host_key(f: &mut Findings, s: &SftpConfig) {
    let HostKeyCheck::KnownHosts(path) = &s.host_key else {
        return;
    };
    let key = format!("remotes.{}.known_hosts", s.name);
    let add = format!(
        "`backup host-key {} >> {}` after checking the fingerprints it prints against the server's (`ssh-keygen -lf` there)",
        s.name,
        path.display()
    );
    let name = known_hosts::host_name(&s.host, s.port);
    match fs_err::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let message = format!("known_hosts file {} does not exist", path.display());
            f.problem(&s.host_key_at, key, message, add);
        }
        Err(e) => {
            let message = format!(
                "known_hosts file {} cannot be read by user {}: {}",
                path.display(),
                user_name(),
                e.kind()
            );
            let fix = format!("`chmod 644 {}`", path.display());
            f.problem(&s.host_key_at, key, message, fix);
        }
        Ok(text) if known_hosts::known_algorithms(&text, &s.host, s.port).is_empty() => {
            let message = format!(
                "known_hosts file {} has no entry for {name}",
                path.display()
            );
            f.problem(&s.host_key_at, key, message, add);
        }
        Ok(_) => {}
    }
}

fn job(f: &mut Findings, j: &JobConfig) {
    for s in &j.sources {
        let list = if s.optional {
            "optional_sources"
        } else {
            "sources"
        };
        let missing = match std::fs::symlink_metadata(&s.path) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(e) => format!("cannot be read: {e}"),
        };
        let message = format!("{} {missing}", s.path.display());
        if s.optional {
            f.notes.push(Note {
                at: s.at.clone(),
                message: format!("jobs.{}.{list}: {message}; runs skip it", j.name),
            });
        } else {
            let fix = format!(
                "create {}, fix the path, or move it to optional_sources",
                s.path.display()
            );
            f.problem(&s.at, format!("jobs.{}.{list}", j.name), message, fix);
        }
    }
    for c in &j.commands {
        let search = c.env.get("PATH").cloned();
        if let Err(message) = program(&c.run[0], c.cwd.as_deref(), search) {
            let key = format!("jobs.{}.commands ({})", j.name, c.name);
            f.problem(&c.at, key, message, install_fix(&c.run[0]));
        }
    }
    for (hook, argv) in [
        ("before", &j.hooks.before),
        ("after", &j.hooks.after),
        ("on_failure", &j.hooks.on_failure),
        ("finally", &j.hooks.finally),
    ] {
        let Some(program_name) = argv.as_ref().and_then(|a| a.first()) else {
            continue;
        };
        if let Err(message) = program(program_name, None, None) {
            let key = format!("jobs.{}.hooks.{hook}", j.name);
            f.problem(&j.hooks_at, key, message, install_fix(program_name));
        }
    }
}

/// The state dir must be writable, or creatable under its nearest existing parent; asked with
/// access(2), which also sees a read-only mount (systemd's ProtectSystem).
fn state_dir(f: &mut Findings, cfg: &Config) {
    let dir = &cfg.agent.state_dir;
    let existing = dir
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    let writable = nix::unistd::access(
        existing,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    );
    let Err(e) = writable else {
        return;
    };
    let user = user_name();
    let (message, fix) = if existing == dir {
        (
            format!(
                "state_dir {} is not writable by user {user}: {e}",
                dir.display()
            ),
            format!("`chown -R {user} {}`", dir.display()),
        )
    } else {
        (
            format!(
                "state_dir {} does not exist and cannot be created by user {user} ({} is not writable: {e})",
                dir.display(),
                existing.display()
            ),
            format!(
                "`mkdir -p {} && chown {user} {}` (mode 700)",
                dir.display(),
                dir.display()
            ),
        )
    };
    f.problem(
        &cfg.agent.state_dir_at,
        "agent.state_dir".into(),
        message,
        fix,
    );
}
