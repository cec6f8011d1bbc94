//! Checking one `[remotes.NAME]` table: its type (`sftp` or `local`), the keys each type needs
//! or must not have, the base path (absolute, `{host}` replaced) and the SFTP settings.

use toml::Spanned;

use super::error::ConfigError;
use super::load::Parsed;
use super::model;
use super::resolved::*;
use super::validate::err;

pub(super) fn resolve_remote(
    p: &Parsed,
    name: &str,
    r: &Spanned<model::Remote>,
    agent: &AgentConfig,
) -> Result<RemoteConfig, ConfigError> {
    let key = |k: &str| format!("remotes.{name}.{k}");
    let rv = r.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(r.span()), msg).with_key(format!("remotes.{name}"))
    };
    let raw_path = rv.path.get_ref();
    if raw_path.trim().is_empty() {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            "path is empty; give the base directory for snapshots",
        ));
    }
    if raw_path.starts_with('~') {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} starts with `~`, which only a shell expands: the agent would use a directory literally named \"~\""),
        )
        .with_hint("write the full path as the account sees it, e.g. \"/home/backup/{host}\"; under sshd's ChrootDirectory the chroot is /"));
    }
    if !raw_path.starts_with('/') {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} is not an absolute path: it would be resolved against the account's start directory, which the server may change"),
        )
        .with_hint("write the full path, e.g. \"/srv/backups/{host}\" (a chrooted SFTP account sees its chroot as /)"));
    }
    let substituted = raw_path.replace("{host}", &agent.host_name);
    if substituted.contains(['{', '}']) {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} holds a placeholder other than {{host}}"),
        ));
    }
    if substituted.split('/').any(|c| c == ".." || c == ".") {
        return Err(err(
            p,
            &rv.path,
            key("path"),
            format!("{raw_path:?} holds a `.` or `..` component"),
        ));
    }
    let trimmed = substituted.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
    let transport = match rv.kind {
        model::RemoteType::Local => {
            if let Some(b) = &rv.bandwidth {
                return Err(err(
                    p,
                    b,
                    key("bandwidth"),
                    "bandwidth limits the line to an SFTP server; a local remote (a disk, an NFS mount) takes no limit",
                )
                .with_hint("remove bandwidth from this remote"));
            }
            let set = rv.sftp_keys_set();
            if !set.is_empty() {
                return Err(whole(format!(
                    "a local remote has only `path`, but {} {} set",
                    set.join(", "),
                    if set.len() == 1 { "is" } else { "are" }
                ))
                .with_hint("remove them, or set type = \"sftp\""));
            }
            Transport::Local
        }
        model::RemoteType::Sftp => {
            let mut sftp = resolve_sftp(p, name, r)?;
            sftp.bandwidth = match &rv.bandwidth {
                Some(b) => Some(super::bandwidth::resolve(p, name, b, agent.timezone)?),
                None => None,
            };
            Transport::Sftp(Box::new(sftp))
        }
    };
    Ok(RemoteConfig {
        name: name.to_string(),
        path,
        transport,
        append_only: rv.append_only,
    })
}

fn resolve_sftp(
    p: &Parsed,
    name: &str,
    r: &Spanned<model::Remote>,
) -> Result<SftpConfig, ConfigError> {
    let key = |k: &str| format!("remotes.{name}.{k}");
    let rv = r.get_ref();
    let whole = |msg: String| {
        ConfigError::at(&p.path, &p.text, Some(r.span()), msg).with_key(format!("remotes.{name}"))
    };
    let required = |v: &Option<String>, k: &str| -> Result<String, ConfigError> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            Some(_) => Err(whole(format!("{k} is empty"))),
            None => Err(whole(format!("missing {k}"))
                .with_hint("an sftp remote needs host, user, identity_file and known_hosts (or host_key_fingerprint); for a directory on this machine set type = \"local\"")),
        }
    };
    let host = required(&rv.host, "host")?;
    let user = required(&rv.user, "user")?;
    let identity_file = rv.identity_file.clone().ok_or_else(|| {
        whole("missing identity_file".into())
            .with_hint("the private key this agent logs in with, e.g. /etc/backup-agent/id_ed25519")
    })?;
    let host_key_at = match (&rv.known_hosts, &rv.host_key_fingerprint) {
        (Some(k), _) => Place::of(p, k.span()),
        (None, Some(f)) => Place::of(p, f.span()),
        (None, None) => Place::of(p, r.span()),
    };
    let host_key = match (&rv.known_hosts, &rv.host_key_fingerprint) {
        (Some(k), None) => HostKeyCheck::KnownHosts(k.get_ref().clone()),
        (None, Some(f)) => {
            let fp = f.get_ref().trim();
            if !fp.starts_with("SHA256:") || fp.len() < 20 {
                return Err(err(
                    p,
                    f,
                    key("host_key_fingerprint"),
                    format!("{fp:?} is not a SHA256 fingerprint"),
                )
                .with_hint(format!(
                    "run `backup host-key {name}` and copy the \"SHA256:...\" value"
                )));
            }
            HostKeyCheck::Fingerprint(fp.to_string())
        }
        (None, None) => {
            return Err(whole("no way to check the server's host key: set known_hosts (an OpenSSH known_hosts file) or host_key_fingerprint".into())
                .with_hint(format!("run `backup host-key {name}` to see the server's keys, check them out of band, and save them")));
        }
        (Some(_), Some(_)) => {
            return Err(whole(
                "known_hosts and host_key_fingerprint are both set; keep one".into(),
            ));
        }
    };
    // Unset: chosen at connect from the round-trip time (remote/sftp/open.rs).
    if let Some(channels) = rv.channels
        && !(1..=16).contains(&channels)
    {
        return Err(
            whole(format!("channels = {channels} is out of range (1 to 16)"))
                .with_key(key("channels")),
        );
    }
    let requests_in_flight = rv.requests_in_flight.unwrap_or(16);
    if !(1..=1024).contains(&requests_in_flight) {
        return Err(whole(format!(
            "requests_in_flight = {requests_in_flight} is out of range (1 to 1024)"
        ))
        .with_key(key("requests_in_flight")));
    }
    Ok(SftpConfig {
        name: name.to_string(),
        host,
        port: rv.port.unwrap_or(22),
        user,
        identity_file_at: Place::of(p, identity_file.span()),
        identity_file: identity_file.into_inner(),
        identity_passphrase_file: rv
            .identity_passphrase_file
            .as_ref()
            .map(|f| (f.get_ref().clone(), Place::of(p, f.span()))),
        host_key,
        host_key_at,
        connect_timeout: rv
            .connect_timeout
            .map_or(std::time::Duration::from_secs(30), |d| d.get()),
        channels: rv.channels.map(|c| c as usize),
        requests_in_flight: requests_in_flight as usize,
        write_order: rv.write_order,
        bandwidth: None,
    })
}
