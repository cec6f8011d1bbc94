//! Starting a program the way a backup needs it: stdin closed, in a process group of its own,
//! and, when the agent is root, as the user a command names (`user = "postgres"`).

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::unistd::User;

/// A user to switch to before exec, resolved while we can still allocate and read files
/// (after fork only async-signal-safe calls are allowed).
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    pub home: PathBuf,
}

/// Looks up `name`. `Ok(None)` when we already are that user; an error when the switch needs
/// root and we are not.
pub fn resolve_user(name: &str) -> Result<Option<RunAs>, String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user {name:?}: {e}"))?
        .ok_or_else(|| format!("there is no user named {name:?} on this machine"))?;
    let me = nix::unistd::geteuid();
    if user.uid == me {
        return Ok(None);
    }
    if !me.is_root() {
        return Err(format!(
            "running as user {name:?} needs the agent to run as root (it runs as uid {me})\n\
             hint: run the agent as root, or remove `user` and run the agent as {name:?}"
        ));
    }
    let cname = CString::new(name).map_err(|_| format!("user name {name:?} contains NUL"))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| format!("cannot list the groups of user {name:?}: {e}"))?;
    Ok(Some(RunAs {
        name: name.to_string(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(|g| g.as_raw()).collect(),
        home: user.dir,
    }))
}

/// Stdin closed, a new process group, and the user switch (with a login-like environment and
/// the user's home as default working directory, as `su -` would give).
pub fn configure(cmd: &mut Command, run_as: Option<&RunAs>) {
    cmd.stdin(Stdio::null()).process_group(0);
    let Some(u) = run_as else { return };
    let home = if u.home.is_dir() {
        u.home.clone()
    } else {
        PathBuf::from("/")
    };
    cmd.env("HOME", &u.home)
        .env("USER", &u.name)
        .env("LOGNAME", &u.name)
        .current_dir(home);
    let (uid, gid, groups) = (u.uid, u.gid, u.groups.clone());
    // SAFETY: the closure runs between fork and exec and makes only raw syscalls on data that
    // was allocated before the fork; std's own uid/gid would drop the supplementary groups
    // that e.g. a `backup` group membership grants, so we set all three here.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
