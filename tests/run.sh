#!/usr/bin/env bash
# The test suite as CI runs it: installs what the integration tests need when missing (as root,
# with apt-get), then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v zstd >/dev/null || need+=(zstd)
command -v sha256sum >/dev/null || need+=(coreutils)
# The server-side hash prefers `openssl dgst` (tests/remote_hash.rs).
[ -x /usr/bin/openssl ] || need+=(openssl)
# The dump guard tests dump a corrupt sqlite file with the real sqlite3 (tests/dumps.rs).
command -v sqlite3 >/dev/null || need+=(sqlite3)
# Encrypted snapshots must restore with the stock age binary (tests/encryption.rs).
command -v age >/dev/null || need+=(age)
# The fidelity tests build their sources with the real tools and compare what they show
# (tests/fidelity.rs).
command -v getfattr >/dev/null || need+=(attr)
command -v getfacl >/dev/null || need+=(acl)
command -v setcap >/dev/null || need+=(libcap2-bin)
[ -x /usr/bin/time ] || need+=(time)
command -v setpriv >/dev/null || need+=(util-linux)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# ProFTPD's mod_sftp, the second SFTP server of the interop tests (tests/common/proftpd.rs).
{ [ -x /usr/sbin/proftpd ] && [ -e /usr/lib/proftpd/mod_sftp.so ]; } ||
  need+=(proftpd-core proftpd-mod-crypto)
# `rclone serve sftp`, a server that takes a file's writes only in order (tests/interop_rclone.rs).
command -v rclone >/dev/null || need+=(rclone)

# The tests start their own servers: no package's service may start during the install.
# A policy-rc.d that refuses every start (exit 101) while apt-get runs, removed afterwards;
# one that was there before is left alone.
policy=/usr/sbin/policy-rc.d
made_policy=
drop_policy() {
  if [ -n "$made_policy" ]; then rm -f "$policy"; made_policy=; fi
}
# A proftpd daemon the install started anyway (an older policy-rc.d let it): stop it by the
# PID in the package's pid file, if that process is a proftpd.
stop_installed_proftpd() {
  local pid
  pid=$(cat /run/proftpd.pid 2>/dev/null) || return 0
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = proftpd ] || return 0
  echo "stopping the proftpd daemon (pid $pid) that the install started"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    # Gone, or a zombie nobody reaps (no init in some containers): stopped either way.
    grep -qs '^State:[[:space:]]*[^Z]' "/proc/$pid/status" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    if [ ! -e "$policy" ]; then
      trap drop_policy EXIT
      made_policy=1
      printf '#!/bin/sh\n# made by backup-agent tests/run.sh during apt-get install\nexit 101\n' >"$policy"
      chmod 755 "$policy"
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    drop_policy
    trap - EXIT
    stop_installed_proftpd
  else
    echo "missing: ${need[*]}; install them (sudo apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
fi
[ -d /run/sshd ] || { [ "$(id -u)" = 0 ] && mkdir -p /run/sshd && chmod 755 /run/sshd; } || true

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
