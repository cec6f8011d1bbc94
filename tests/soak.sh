#!/usr/bin/env bash
# Fault-injection soak: the real binary against a private sshd and a local remote under seeded
# random faults, checked after every step by an independent checker (tests/soak/check.py).
#   tests/soak.sh [--runs N] [--seed S] [--steps K] [--only FAULT,...] [--keep]   (tests/soak/soak.py)
#   tests/soak.sh --ci      the short deterministic subset CI runs (fixed seeds)
# Binary: $BACKUP_BIN, else $CARGO_TARGET_DIR/debug/backup, else target/debug/backup.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --ci ]; then
  shift
  set -- --seed 1 --runs 12 --steps 8 "$@"
fi
exec python3 "$here/soak/soak.py" "$@"
