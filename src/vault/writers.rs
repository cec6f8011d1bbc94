//! Whether any process still holds one of a sealed snapshot's files open for writing. A
//! seal takes the write bits away for new opens only: a descriptor opened before it (an
//! `sftp-server` mid-upload, or an intruder's deliberately kept one) still writes. So the
//! vault checks a snapshot only after no descriptor on this machine can change it, found in
//! `/proc/PID/fd` and the access mode in `/proc/PID/fdinfo`. No crate reads fdinfo flags
//! (procfs parses them, but pulls in a large dependency for twenty lines).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;

/// The PIDs that have any of `inodes` ((dev, ino)) open with write access, or whose
/// descriptors this process may not read (without CAP_SYS_PTRACE over them: it cannot tell,
/// so it does not claim the snapshot is settled).
pub fn writers(inodes: &HashSet<(u64, u64)>) -> Vec<u32> {
    let mut out = Vec::new();
    if inodes.is_empty() {
        return out;
    }
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let fds = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(fds) => fds,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                out.push(pid);
                continue;
            }
            // A process that exited meanwhile has no descriptors left: nothing to find.
            Err(_) => continue,
        };
        for fd in fds.flatten() {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            if !inodes.contains(&(meta.dev(), meta.ino())) {
                continue;
            }
            let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
            if fs::read_to_string(info).is_ok_and(|t| opened_for_writing(&t)) {
                out.push(pid);
                break;
            }
        }
    }
    out
}

/// fdinfo's `flags:` line is octal; the access mode is its low two bits.
fn opened_for_writing(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .is_some_and(|flags| flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn fdinfo_flags_are_read_as_octal_access_modes() {
        assert!(!opened_for_writing(
            "pos:\t0\nflags:\t0100000\nmnt_id:\t1\n"
        ));
        assert!(opened_for_writing("pos:\t0\nflags:\t0100001\n"));
        assert!(opened_for_writing("pos:\t0\nflags:\t02100002\n"));
        assert!(!opened_for_writing("garbage"));
    }

    #[test]
    fn a_file_open_for_writing_here_is_found_and_a_read_only_one_is_not() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("f");
        let w = fs::File::create(&path).unwrap();
        let m = fs::metadata(&path).unwrap();
        let set: HashSet<(u64, u64)> = [(m.dev(), m.ino())].into();
        assert_eq!(writers(&set), vec![std::process::id()]);
        drop(w);
        let _r = fs::File::open(&path).unwrap();
        assert!(writers(&set).is_empty());
    }
}
