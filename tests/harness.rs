//! Self-test of the shared harness in `tests/common/`, using only the system OpenSSH client
//! (`ssh`, `sftp`): proves sshd, ProFTPD, Proxy, SmallFs, tree_digest and peak_rss_kib work on
//! this machine before the product tests rely on them.

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{HostKeyType, Proftpd, Proxy, SmallFs, SshServer, describe};

/// OpenSSH client options: only our key and known_hosts, never prompts.
fn client_opts(sshd: &SshServer) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "-F".into(),
        "/dev/null".into(),
        "-i".into(),
        sshd.client_key().into(),
    ];
    let kh = format!("UserKnownHostsFile={}", sshd.known_hosts().display());
    for o in [
        kh.as_str(),
        "GlobalKnownHostsFile=/dev/null",
        "StrictHostKeyChecking=yes",
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "ConnectTimeout=5",
    ] {
        v.push("-o".into());
        v.push(o.into());
    }
    v
}

/// `sftp -b batch` to `port` with `batch` commands.
fn sftp_cmd(sshd: &SshServer, port: u16, batch: &str) -> Command {
    sftp_cmd_as(sshd, port, sshd.user(), &[], batch)
}

/// [`sftp_cmd`] logging in as `user`, with extra client options (e.g. `-vv`).
fn sftp_cmd_as(sshd: &SshServer, port: u16, user: &str, extra: &[&str], batch: &str) -> Command {
    let file = sshd.dir().join(format!("batch-{}", rand_suffix()));
    std::fs::write(&file, batch).unwrap();
    let mut cmd = Command::new("sftp");
    cmd.args(client_opts(sshd))
        .args(extra)
        .arg("-P")
        .arg(port.to_string())
        .arg("-b")
        .arg(file);
    cmd.arg(format!("{user}@127.0.0.1")).stdin(Stdio::null());
    cmd
}

fn sftp(sshd: &SshServer, port: u16, batch: &str) -> Output {
    sftp_cmd(sshd, port, batch).output().expect("spawn sftp")
}

fn ssh(sshd: &SshServer, port: u16, remote_cmd: &str) -> Output {
    let mut cmd = Command::new("ssh");
    cmd.args(client_opts(sshd)).arg("-p").arg(port.to_string());
    cmd.arg(format!("{}@127.0.0.1", sshd.user()))
        .arg(remote_cmd)
        .stdin(Stdio::null());
    cmd.output().expect("spawn ssh")
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A local file of `len` pseudo-random-ish bytes.
fn make_file(dir: &Path, name: &str, len: usize) -> std::path::PathBuf {
    let data: Vec<u8> = (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn put(sshd: &SshServer, port: u16, local: &Path, remote_name: &str) -> Output {
    let remote = sshd.remote_dir().join(remote_name);
    sftp(
        sshd,
        port,
        &format!("put {} {}\n", local.display(), remote.display()),
    )
}

#[test]
fn sftp_and_ssh_work_directly_and_through_proxy() {
    let Some(sshd) = common::sshd() else { return };
    let local = make_file(sshd.dir(), "payload", 200_000);
    let out = put(&sshd, sshd.port(), &local, "direct");
    assert!(out.status.success(), "{}\n{}", describe(&out), sshd.log());
    assert_eq!(
        std::fs::read(sshd.remote_dir().join("direct")).unwrap(),
        std::fs::read(&local).unwrap()
    );
    let out = ssh(&sshd, sshd.port(), "true");
    assert!(
        out.status.success(),
        "exec allowed on a normal server: {}",
        describe(&out)
    );

    let proxy = Proxy::start(sshd.port());
    sshd.trust_port(proxy.port());
    let out = put(&sshd, proxy.port(), &local, "proxied");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(proxy.bytes_up() > 200_000 && proxy.bytes_down() > 0 && proxy.connections() == 1);
    let check =
        sshd.remote_run("cmp direct proxied && sha256sum proxied > SUMS && sha256sum -c SUMS");
    assert!(check.status.success(), "{}", describe(&check));
}

#[test]
fn proxy_cut_after_fails_transfer_once() {
    let Some(sshd) = common::sshd() else { return };
    let proxy = Proxy::start(sshd.port());
    sshd.trust_port(proxy.port());
    let local = make_file(sshd.dir(), "big", 4 << 20);
    proxy.cut_after(1 << 20);
    let out = put(&sshd, proxy.port(), &local, "cut");
    assert!(
        !out.status.success(),
        "transfer should fail: {}",
        describe(&out)
    );
    assert_eq!(proxy.bytes_up(), 1 << 20, "exactly the budget is forwarded");
    assert!(!proxy.armed());
    // One-shot: the next connection goes through.
    let out = put(&sshd, proxy.port(), &local, "cut");
    assert!(out.status.success(), "{}", describe(&out));
    // cut_now / reject_new
    proxy.reject_new(true);
    assert!(!ssh(&sshd, proxy.port(), "true").status.success());
    proxy.reject_new(false);
    assert!(ssh(&sshd, proxy.port(), "true").status.success());
}

#[test]
fn proxy_stall_times_out_then_resumes() {
    let Some(sshd) = common::sshd() else { return };
    let proxy = Proxy::start(sshd.port());
    sshd.trust_port(proxy.port());
    proxy.stall();
    let started = Instant::now();
    let out = ssh(&sshd, proxy.port(), "true"); // ConnectTimeout=5 covers the banner exchange
    assert!(
        !out.status.success(),
        "stalled connection must not succeed: {}",
        describe(&out)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "peer should see silence, not a close"
    );
    proxy.resume();
    assert!(ssh(&sshd, proxy.port(), "true").status.success());

    // Stall mid-session, cut it, and the client notices.
    let mut child = sftp_cmd(
        &sshd,
        proxy.port(),
        &format!(
            "put {} {}/x\n",
            make_file(sshd.dir(), "f", 8 << 20).display(),
            sshd.remote_dir().display()
        ),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    while proxy.bytes_up() < 100_000 {
        std::thread::sleep(Duration::from_millis(5));
    }
    proxy.stall();
    std::thread::sleep(Duration::from_millis(300));
    let frozen = proxy.bytes_up();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(frozen, proxy.bytes_up(), "no bytes flow while stalled");
    assert!(child.try_wait().unwrap().is_none(), "client still waiting");
    proxy.cut_now();
    let status = child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn rekey_breaks_strict_host_key_checking() {
    let Some(mut sshd) = common::sshd() else {
        return;
    };
    assert!(ssh(&sshd, sshd.port(), "true").status.success());
    sshd.rekey();
    let out = ssh(&sshd, sshd.port(), "true");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{err}"
    );
    sshd.write_known_hosts();
    assert!(ssh(&sshd, sshd.port(), "true").status.success());
}

#[test]
fn every_host_key_type_is_usable() {
    let Some(sshd) = common::sshd() else { return };
    for t in HostKeyType::ALL {
        sshd.write_known_hosts_for(&[t]);
        let out = ssh(&sshd, sshd.port(), "true");
        assert!(out.status.success(), "{t:?}: {}", describe(&out));
    }
}

#[test]
fn sftp_only_refuses_exec() {
    let Some(sshd) = common::sshd_sftp_only() else {
        return;
    };
    let out = ssh(&sshd, sshd.port(), "true");
    assert!(
        !out.status.success(),
        "exec must fail on an sftp-only server: {}",
        describe(&out)
    );
    let local = make_file(sshd.dir(), "p", 1000);
    let out = put(&sshd, sshd.port(), &local, "ok");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(sshd.remote_dir().join("ok").exists());
}

#[test]
fn kill_now_and_restart() {
    let Some(mut sshd) = common::sshd() else {
        return;
    };
    let port = sshd.port();
    let proxy = Proxy::start(port); // throttle nothing; only used to watch progress
    sshd.trust_port(proxy.port());
    let local = make_file(sshd.dir(), "big", 64 << 20);
    let remote = sshd.remote_dir().join("big");
    let mut child = sftp_cmd(
        &sshd,
        proxy.port(),
        &format!("put {} {}\n", local.display(), remote.display()),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    while proxy.bytes_up() < 200_000 {
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = sshd.pid().unwrap();
    let sessions = common::process_tree(pid).len();
    assert!(sessions > 1, "session processes are in the tree");
    sshd.kill_now();
    assert!(
        !child.wait().unwrap().success(),
        "upload must die with the server"
    );
    assert!(common::process_tree(pid).is_empty());
    assert!(!sshd.is_running());
    sshd.restart();
    assert_eq!(sshd.port(), port);
    assert!(ssh(&sshd, port, "true").status.success());
    assert!(sshd.log().contains("Server listening on 127.0.0.1"));
}

/// ProFTPD's mod_sftp through the same OpenSSH client: strict host key checking against the
/// generated `known_hosts` with each host key type alone, the client key for the current user
/// only, put and ls at the real path of `remote/`, files owned by the current user; no exec
/// channel, no password auth; the extensions it advertises; a rekey is noticed.
#[test]
fn proftpd_serves_sftp_to_the_openssh_client() {
    let Some(mut server) = Proftpd::start() else {
        return;
    };
    let local = make_file(server.dir(), "payload", 200_000);
    for t in HostKeyType::ALL {
        server.write_known_hosts_for(&[t]);
        let name = format!("via-{}", t.name());
        let out = put(&server, server.port(), &local, &name);
        assert!(
            out.status.success(),
            "{t:?}: {}\n{}",
            describe(&out),
            server.log()
        );
        let copy = server.remote_dir().join(&name);
        assert_eq!(
            std::fs::read(&copy).unwrap(),
            std::fs::read(&local).unwrap()
        );
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&copy).unwrap());
        assert_eq!(
            owner,
            unsafe { libc::geteuid() },
            "session runs as the current user"
        );
    }
    server.write_known_hosts();
    let batch = format!("pwd\nls -1 {}\n", server.remote_dir().display());
    let out = sftp_cmd_as(&server, server.port(), server.user(), &["-vv"], &batch)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let cwd = format!(
        "Remote working directory: {}",
        server.remote_dir().display()
    );
    assert!(
        stdout.contains(&cwd) && stdout.contains("via-rsa"),
        "{stdout}"
    );
    let debug = String::from_utf8_lossy(&out.stderr);
    let methods = "debug1: Authentications that can continue: publickey";
    assert!(debug.lines().any(|l| l.trim_end() == methods), "{debug}");
    for ext in ["posix-rename", "fsync", "statvfs", "fstatvfs", "hardlink"] {
        let line = format!("Server supports extension \"{ext}@openssh.com\"");
        assert!(debug.contains(&line), "{ext} missing:\n{debug}");
    }
    assert!(!debug.contains("limits@openssh.com"), "{debug}");

    let other = if server.user() == "nobody" {
        "root"
    } else {
        "nobody"
    };
    let out = sftp_cmd_as(&server, server.port(), other, &[], "pwd\n")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the key is only for the current user"
    );
    let out = ssh(&server, server.port(), "true");
    assert!(
        !out.status.success(),
        "no exec on mod_sftp: {}",
        describe(&out)
    );

    server.rekey();
    let out = put(&server, server.port(), &local, "after-rekey");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
    server.write_known_hosts();
    let out = put(&server, server.port(), &local, "after-rekey");
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn config_helper_writes_toml() {
    let sshd = common::sshd_or_skip!();
    let cfg = sshd.write_config("[jobs.t]\nremote = \"test\"\nsources = [\"/tmp\"]\n");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(&format!("port = {}", sshd.port())), "{text}");
    assert!(
        text.contains("[remotes.test]")
            && text.contains("[jobs.t]")
            && text.contains("state_dir = ")
    );
    assert!(!common::bin().as_os_str().is_empty());
}

#[test]
fn small_fs_fills_up() {
    let Some(fs) = SmallFs::mount(1 << 20) else {
        return;
    };
    assert!(fs.size() <= 1 << 20 && fs.available() > 0);
    let err = std::fs::write(fs.path().join("big"), vec![0u8; 2 << 20]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
}

#[test]
fn tree_digest_sees_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    let weird = std::ffi::OsStr::from_bytes(b"caf\xe9\n name");
    std::fs::write(src.join(weird), b"latin-1").unwrap();
    std::fs::write(src.join("sub/a"), b"hello").unwrap();
    std::fs::hard_link(src.join("sub/a"), src.join("sub/deeper/a-link")).unwrap();
    std::os::unix::fs::symlink("../a", src.join("sub/deeper/sym")).unwrap();
    common::run_ok("chmod", &["4750", src.join("sub/a").to_str().unwrap()]);
    common::run_ok("mkfifo", &[src.join("fifo").to_str().unwrap()]);
    common::run_ok(
        "touch",
        &[
            "-h",
            "-d",
            "2001-02-03 04:05:06",
            src.join("sub/deeper/sym").to_str().unwrap(),
        ],
    );

    let dst = tmp.path().join("dst");
    common::run_ok("cp", &["-a", src.to_str().unwrap(), dst.to_str().unwrap()]);
    common::assert_trees_eq(&src, &dst);

    let digest = common::tree_digest(&src);
    let names: Vec<_> = digest.iter().map(|e| e.path.clone()).collect();
    assert!(names.contains(&b"caf\xe9\n name".to_vec()));
    let a = digest.iter().find(|e| e.path == b"sub/a").unwrap();
    assert_eq!(
        (a.mode, a.size, a.hardlink.as_deref()),
        (0o4750, 5, Some(&b"sub/a"[..]))
    );
    let sym = digest.iter().find(|e| e.path == b"sub/deeper/sym").unwrap();
    let when = common::run_ok("date", &["-d", "2001-02-03 04:05:06", "+%s"]);
    let when: i64 = String::from_utf8_lossy(&when.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        (sym.link_target.as_deref(), sym.mtime),
        (Some(&b"../a"[..]), when)
    );

    // Breaking the hard link, changing content or mode is detected.
    std::fs::remove_file(dst.join("sub/deeper/a-link")).unwrap();
    std::fs::write(dst.join("sub/deeper/a-link"), b"hello").unwrap();
    std::fs::set_permissions(
        dst.join("sub/deeper/a-link"),
        std::fs::metadata(src.join("sub/a")).unwrap().permissions(),
    )
    .unwrap();
    let diffs = common::diff_digests(&digest, &common::tree_digest(&dst));
    assert!(
        diffs
            .iter()
            .any(|d| d.contains("a: sub/a ") && d.contains("hardlink=sub/a")),
        "{diffs:#?}"
    );
    assert!(
        diffs.iter().any(|d| d.contains("a: sub/deeper/a-link ")),
        "{diffs:#?}"
    );
}

#[test]
fn peak_rss_is_measured() {
    let mut cmd = Command::new("dd");
    cmd.args(["if=/dev/zero", "of=/dev/null", "bs=32M", "count=2"]);
    let (out, kib) = common::peak_rss_kib(&cmd);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("copied"),
        "dd's own stderr is kept"
    );
    assert!((32 * 1024..512 * 1024).contains(&kib), "{kib} KiB");
}
