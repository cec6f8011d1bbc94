#!/usr/bin/env bash
# Fault-injection soak: the real binary against a private sshd and a local remote under seeded
# random faults, checked after every step by an independent checker (tests/soak/check.py).
#   tests/soak.sh [--runs N] [--seed S] [--steps K] [--only FAULT,...] [--keep]   (tests/soak/soak.py)
#   tests/soak.sh --ci      the short deterministic subset CI runs (fixed seeds)
# Binary: $BACKUP_BIN, else $CARGO_TARGET_DIR/debug/backup, else target/debug/backup.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# libfaketime moves the agent's wall clock (tests/soak/clock.py); installed like tests/run.sh's tools.
if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: faketime"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null
  else
    echo "missing: faketime (libfaketime); sudo apt-get install faketime, or run as root" >&2
    exit 1
  fi
fi
if [ "${1:-}" = --ci ]; then
  shift
  set -- --seed 1 --runs 9 --steps 7 "$@"
fi
exec python3 "$here/soak/soak.py" "$@"
