//! Restore fidelity: what `stat`, `getfattr` and `getfacl` show of a source tree comes back
//! the same from `backup restore` and from GNU tar with the README's command. The sources are
//! made with the real tools (touch -d, setfattr, setfacl, setcap, mkfifo) on the temp dir's
//! file system; the snapshots go to a `type = "local"` remote.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::hosts::{Host, Server, assert_exit, host, stderr};
use common::{describe, run_ok};

/// The README's command that restores everything a snapshot keeps.
const GNU_TAR: &str = "tar --xattrs --xattrs-include='*' --acls -x --numeric-owner -p";

fn sh(script: &str) -> String {
    let out = run_ok("sh", &["-c", script]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp dir with the source `data` and host `alpha` backing it up into `remote`.
struct Fixture {
    dir: tempfile::TempDir,
    host: Host,
}

impl Fixture {
    fn new(extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let remote = dir.path().join("remote");
        let jobs = common::sample::job_toml("t", &data, extra);
        let host = host(
            dir.path(),
            "alpha",
            Server::Local,
            remote.to_str().unwrap(),
            &jobs,
        );
        Fixture { dir, host }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs the job and returns its snapshot directory.
    fn snapshot(&self) -> PathBuf {
        self.host.ok(&["run", "t"]);
        let snaps = common::snap::snapshots(&self.dir.path().join("remote/t"));
        assert_eq!(snaps.len(), 1, "{snaps:?}");
        snaps[0].clone()
    }

    /// `backup restore` into a new directory: its output and the restored copy of `data`.
    fn restore(&self, args: &[&str]) -> (std::process::Output, PathBuf) {
        let target = self.dir.path().join("by-agent");
        let mut all = vec![
            "restore",
            "t",
            "latest",
            "--target",
            target.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let out = self.host.backup(&all);
        (out, in_target(&target, &self.data()))
    }

    /// GNU tar with the README's command into a new directory: the restored copy of `data`.
    fn gnu_tar(&self, snap: &Path) -> PathBuf {
        let target = self.dir.path().join("by-tar");
        std::fs::create_dir(&target).unwrap();
        sh(&format!(
            "zstd -dc {}/files.tar.zst | {GNU_TAR} -C {}",
            snap.display(),
            target.display()
        ));
        in_target(&target, &self.data())
    }
}

fn in_target(target: &Path, data: &Path) -> PathBuf {
    target.join(data.strip_prefix("/").unwrap())
}

/// Everything the acceptance compares, for every path under `root`, sorted by name.
fn view(root: &Path) -> String {
    sh(&format!(
        "cd {} && find . | LC_ALL=C sort | while IFS= read -r p; do \
           stat -c '%n %y %a %u %g %F %t %T' \"$p\"; \
           getfattr -h -d -m - -e hex \"$p\" 2>/dev/null; \
           [ -L \"$p\" ] || getfacl -p \"$p\" 2>/dev/null | grep -v '^# file'; \
           [ -f \"$p\" ] && [ ! -L \"$p\" ] && sha256sum \"$p\"; \
         done; true",
        root.display()
    ))
}

fn assert_same(source: &Path, restored: &Path, how: &str) {
    let (a, b) = (view(source), view(restored));
    assert_eq!(a, b, "{how} gave a different tree");
}

#[test]
fn mtimes_come_back_to_the_nanosecond() {
    let f = Fixture::new("");
    let d = f.data();
    sh(&format!(
        "mkdir -p {d}/dir && echo x >{d}/dir/file && ln -s file {d}/dir/link && \
         touch -h -d '2024-03-01 12:00:00.123456789' {d}/dir/link && \
         touch -d '2024-03-01 12:00:00.987654321' {d}/dir/file && \
         touch -d '2023-01-02 03:04:05.000000001' {d}/dir && \
         touch -d '2022-05-06 07:08:09.5' {d}",
        d = d.display()
    ));
    let source = view(&d);
    assert!(source.contains(".123456789"), "{source}");
    assert_round_trip(&f, &[]);
}

/// Backs up the source, restores it with `backup restore` and with GNU tar, and asserts that
/// both give it back as `view` shows it; returns the snapshot.
fn assert_round_trip(f: &Fixture, args: &[&str]) -> PathBuf {
    let d = f.data();
    let snap = f.snapshot();
    let (out, back) = f.restore(args);
    assert_exit(&out, 0, "restore");
    assert!(
        stderr(&out).contains("checksums match"),
        "{}",
        describe(&out)
    );
    assert_same(&d, &back, "backup restore");
    assert_same(&d, &f.gnu_tar(&snap), "GNU tar");
    snap
}

/// Files and a directory with `user.*` attributes (text, binary, with a NUL, empty), a
/// `trusted.*` one, a file capability, access ACLs and a directory's default ACL, as root
/// sets them.
fn attributes(d: &Path) {
    sh(&format!(
        "mkdir -p {d}/dir && echo x >{d}/dir/file && echo y >{d}/ping && mkfifo {d}/fifo && \
         setfattr -n user.text -v 'hello world' {d}/dir/file && \
         setfattr -n user.binary -v 0x00ff10e9000a {d}/dir/file && \
         setfattr -n user.empty {d}/dir/file && \
         setfattr -n trusted.origin -v 0x0102 {d}/dir/file && \
         setfattr -n user.dir -v on-a-directory {d}/dir && \
         setcap cap_net_raw+ep {d}/ping && \
         setfacl -m u:4242:rwx,g:100:r-x {d}/dir/file && \
         setfacl -m u:4242:r-x {d}/dir && setfacl -d -m u:4242:rwx,g::r-x,o::- {d}/dir",
        d = d.display()
    ));
}

#[test]
fn extended_attributes_and_capabilities_come_back() {
    let f = Fixture::new("");
    let d = f.data();
    attributes(&d);
    let source = view(&d);
    for name in [
        "user.binary=0x00ff10e9000a",
        "trusted.origin",
        "security.capability",
    ] {
        assert!(source.contains(name), "{source}");
    }
    let snap = assert_round_trip(&f, &[]);
    // ACLs are kept once, as GNU tar keeps them: as text, not also as their attributes.
    let records = sh(&format!(
        "zstd -dc {}/files.tar.zst | grep -a -o 'SCHILY[.a-z_]*' | sort | uniq -c",
        snap.display()
    ));
    assert!(records.contains("SCHILY.acl.default"), "{records}");
    assert!(records.contains("SCHILY.acl.access"), "{records}");
    assert!(!records.contains("posix_acl"), "{records}");
}

#[test]
fn xattrs_and_acls_false_store_neither() {
    let f = Fixture::new("xattrs = false\nacls = false");
    attributes(&f.data());
    f.snapshot();
    let (out, back) = f.restore(&[]);
    assert_exit(&out, 0, "restore");
    let got = view(&back);
    assert!(
        !got.contains("user.") && !got.contains("security.") && !got.contains("4242"),
        "{got}"
    );
}

#[test]
fn attributes_that_need_privileges_are_warnings_naming_them() {
    let f = Fixture::new("");
    let d = f.data();
    attributes(&d);
    f.snapshot();
    let target = f.dir.path().join("unprivileged");
    // A real unprivileged user (as root: `nobody`) meets what an operator's own account meets:
    // no CAP_SETFCAP for security.capability, no CAP_SYS_ADMIN for trusted.*. It needs to
    // reach a copy of the binary, the config and the snapshot, and to write its state and the
    // target.
    let bin = f.dir.path().join("backup");
    std::fs::copy(common::bin(), &bin).unwrap();
    std::fs::create_dir(&target).unwrap();
    let mut cmd = Command::new(&bin);
    if nix::unistd::geteuid().is_root() {
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        sh(&format!(
            "chmod -R a+rX {dir} && mkdir -p {state} && chown -R nobody {state} {target}",
            dir = f.dir.path().display(),
            state = f.host.state_dir.display(),
            target = target.display()
        ));
        std::os::unix::process::CommandExt::uid(&mut cmd, nobody.uid.as_raw());
        std::os::unix::process::CommandExt::gid(&mut cmd, nobody.gid.as_raw());
    }
    cmd.arg("--config").arg(&f.host.config).args([
        "restore",
        "t",
        "latest",
        "--target",
        target.to_str().unwrap(),
    ]);
    let out = common::output_of_copied(&mut cmd);
    assert_exit(&out, 3, "restore without privileges");
    let err = stderr(&out);
    for name in [
        "ping: extended attribute security.capability",
        "file: extended attribute trusted.origin",
    ] {
        assert!(err.contains(name), "{}", describe(&out));
    }
    // Everything else is restored.
    let back = in_target(&target, &d);
    let got = view(&back);
    assert!(got.contains("user.binary=0x00ff10e9000a"), "{got}");
    assert_eq!(std::fs::read_to_string(back.join("ping")).unwrap(), "y\n");
}

#[test]
fn fifos_and_devices_come_back_and_devices_only_when_asked() {
    let f = Fixture::new("");
    let d = f.data();
    sh(&format!(
        "mkfifo -m 0640 {d}/fifo && mknod -m 0620 {d}/tty c 4 64 && mknod {d}/disk b 7 200 && \
         echo x >{d}/file && chown 4242:100 {d}/tty && \
         touch -h -d '2024-03-01 12:00:00.25' {d}/tty {d}/fifo",
        d = d.display()
    ));
    let source = view(&d);
    assert!(source.contains("character special file 4 40"), "{source}");
    assert!(source.contains("block special file 7 c8"), "{source}");
    assert_round_trip(&f, &["--devices"]);

    let target = f.dir.path().join("without-devices");
    let out = f.host.backup(&[
        "restore",
        "t",
        "latest",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_exit(&out, 3, "restore without --devices");
    let err = stderr(&out);
    for name in [
        "tty: device node not restored",
        "disk: device node not restored",
        "--devices",
    ] {
        assert!(err.contains(name), "{}", describe(&out));
    }
    let back = in_target(&target, &d);
    assert!(!back.join("tty").exists() && !back.join("disk").exists());
    assert!(back.join("fifo").exists() && back.join("file").exists());
}

#[test]
fn one_file_system_stores_mount_points_empty() {
    for (extra, crossed) in [("one_file_system = true", false), ("", true)] {
        let f = Fixture::new(extra);
        let d = f.data();
        std::fs::create_dir_all(d.join("mnt")).unwrap();
        std::fs::write(d.join("here"), "on the source's fs\n").unwrap();
        let Some(fs) = common::SmallFs::mount_on(Some(&d.join("mnt")), 1 << 20) else {
            return;
        };
        std::fs::write(fs.path().join("there"), "on another fs\n").unwrap();
        let snap = f.snapshot();
        let names = sh(&format!(
            "zstd -dc {}/files.tar.zst | tar -t",
            snap.display()
        ));
        let has = |n: &str| names.lines().any(|l| l.trim_end_matches('/').ends_with(n));
        assert!(has("data/here") && has("data/mnt"), "{names}");
        assert_eq!(has("data/mnt/there"), crossed, "{extra:?}: {names}");
    }
}

#[test]
fn a_sparse_file_stores_and_restores_its_data_not_its_size() {
    let f = Fixture::new("");
    let d = f.data();
    // 1 GiB with 4 MiB of random data at scattered offsets, and a file that is all hole.
    sh(&format!(
        "for mib in 0 100 517 1000; do \
           dd if=/dev/urandom of={d}/disk.img bs=1M count=1 seek=$mib conv=notrunc status=none; \
         done && truncate -s 1G {d}/disk.img && truncate -s 10M {d}/empty.img",
        d = d.display()
    ));
    let start = std::time::Instant::now();
    let snap = assert_round_trip(&f, &[]);
    eprintln!("run and both restores: {:?}", start.elapsed());
    let stored = std::fs::metadata(snap.join("files.tar.zst")).unwrap().len();
    assert!(stored < 10 << 20, "stored {stored} bytes");
    let blocks = |p: &Path| {
        sh(&format!("stat -c %b {}", p.display()))
            .trim()
            .parse::<f64>()
            .unwrap()
    };
    let source = blocks(&d.join("disk.img"));
    for back in [
        in_target(&f.dir.path().join("by-agent"), &d),
        in_target(&f.dir.path().join("by-tar"), &d),
    ] {
        let got = blocks(&back.join("disk.img"));
        assert!(
            (got - source).abs() <= source * 0.1,
            "{got} blocks, source {source}"
        );
    }
}
