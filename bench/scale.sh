#!/usr/bin/env bash
# Scale benchmark (issue 20): how `backup run`, `backup restore` and `backup verify` grow with
# the number of files and with the size of one command stream, beside the pipelines they
# replace, in the same run: `tar | zstd -3 -T0 | ssh cat` and `ssh cat | zstd -dc | tar -x`.
#
#   cargo build --release && bench/scale.sh   every size (~15 min, ~4 more to make the trees once)
#   SCALE_TREES="20000 200000" SCALE_DEEP=0 SCALE_STREAM_GIB=0 bench/scale.sh   a quick subset
#
# Trees come from bench/scale-tree.py (deterministic: SCALE_SEED), one per size, kept under
# SCALE_DIR (default /tmp/scale) and reused: small files (512 B - 8 KiB, ~4.3 KiB mean), so the
# per-file work (walk, stat, open, header, create) is what grows, and a deep tree of SCALE_DEEP
# files (default 20000) with 100-200 byte names 12 levels down (paths to ~2,500 bytes). The
# stream is SCALE_STREAM_GIB GiB (default 100) of compressible SQL-like text from `yes`, dumped
# by a job command, so the run is CPU-bound, not disk- or network-bound.
# Every row: wall s, client user+sys CPU s, peak RSS MiB (GNU time), and for trees the cost per
# file (wall / files). A private sshd on 127.0.0.1 (own keys) is the server; it and everything
# it wrote are removed at exit, the datasets stay.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=${BACKUP_BIN:-$HERE/../target/release/backup}
B=$(cd "$(dirname "$B")" && pwd)/$(basename "$B")
GEN=$HERE/scale-tree.py
SEED=${SCALE_SEED:-1}
DEEP=${SCALE_DEEP:-20000}
W=${SCALE_DIR:-/tmp/scale}
TREES=${SCALE_TREES:-20000 200000 1000000}
STREAM_GIB=${SCALE_STREAM_GIB:-100}
mkdir -p "$W"
R=$W/remote
# Restores go to RAM by default, one at a time (the 1M-file tree takes ~5.5 GB of tmpfs): on
# an ext4 that freed many inodes lately (earlier runs' restores) inode allocation crawls
# (recently_deleted in the profile) and made either restore up to 10x slower, whichever came
# second; tmpfs has no such state.
RESTORE=${SCALE_RESTORE_DIR:-/dev/shm/scale-restore}
OUT=$W/results-$(date -u +%Y%m%dT%H%M%SZ).md

# --- a private sshd, as shared/bench/baseline.sh starts one ------------------------------------
d=$W/ssh
rm -rf "$d" "$R"; mkdir -p "$d" "$R" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$d/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$d/client_ed25519"
cp "$d/client_ed25519.pub" "$d/authorized_keys"
chmod 600 "$d/authorized_keys" "$d/client_ed25519"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$d/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
SetEnv SHLVL=1
EOF
/usr/sbin/sshd -D -E "$d/sshd.log" -f "$d/sshd_config" &
SSHD_PID=$!
cleanup() { kill "$SSHD_PID" 2>/dev/null || true; rm -rf "$R" "$RESTORE" "$W/ssh"; }
trap cleanup EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$d/host_ed25519.pub")" >"$d/known_hosts"
SSH="ssh -F /dev/null -i $d/client_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=$d/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR -p $PORT"
HOST=$(id -un)@127.0.0.1
$SSH "$HOST" true

config() { # config JOB SOURCES_TOML [EXTRA]
  cat >"$W/config.toml" <<EOF
[agent]
state_dir = "$W/state"
[remotes.s]
host = "127.0.0.1"
port = $PORT
user = "$(id -un)"
identity_file = "$d/client_ed25519"
known_hosts = "$d/known_hosts"
path = "$R"
[jobs.$1]
remote = "s"
sources = $2
${3:-}
EOF
}

# measure NAME FILES CMD...: one row (GNU time: wall, user+sys, max RSS of the largest process).
printf '| what | files | wall s | CPU s | peak RSS MiB | us per file |\n| --- | --- | --- | --- | --- | --- |\n' >"$OUT"
measure() {
  local name=$1 files=$2; shift 2
  if ! /usr/bin/time -o "$W/time.out" -f '%e %U %S %M' bash -c "$*" >/dev/null 2>"$W/cmd.err"; then
    echo "FAILED: $name" >&2; cat "$W/cmd.err" >&2; exit 1
  fi
  local wall user sys rss
  read -r wall user sys rss <"$W/time.out"
  local cpu per
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  per=$(awk -v w="$wall" -v n="$files" 'BEGIN { if (n > 0) printf "%.1f", w * 1e6 / n; else print "-" }')
  printf '| %s | %s | %s | %s | %s | %s |\n' "${name//|/\\|}" "$files" "$wall" "$cpu" "$((rss / 1024))" "$per" | tee -a "$OUT"
}

# tree NAME KIND FILES: the rows of one tree.
tree() {
  local name=$1 kind=$2 n=$3 data=$W/$2-$3
  python3 "$GEN" "$kind" "$data" "$n" "$SEED"
  local files
  files=$(find "$data" -type f ! -name .done | wc -l)
  # Read once, untimed: the first row would otherwise pay for a cold page cache (the 200k
  # tree's reference took 33 s cold, 5x the warm run after it).
  find "$data" -type f -print0 | xargs -0 cat >/dev/null
  config tree "[\"$data\"]" 'verify = "auto"'
  rm -rf "${R:?}"/*
  measure "$name: tar | zstd -3 -T0 | ssh cat" "$files" \
    "tar -C '$data' -cf - . | zstd -3 -T0 -q | $SSH $HOST 'cat > $R/ref.tar.zst'"
  measure "$name: backup run" "$files" "'$B' --config '$W/config.toml' run tree -q"
  measure "$name: backup verify --read" "$files" "'$B' --config '$W/config.toml' verify tree --read -q"
  rm -rf "$RESTORE"; mkdir -p "$RESTORE"
  measure "$name: ssh cat | zstd -dc | tar -x" "$files" \
    "$SSH $HOST 'cat $R/ref.tar.zst' | zstd -dc | tar -C '$RESTORE' -xf -"
  rm -rf "$RESTORE"; mkdir -p "$RESTORE"
  measure "$name: backup restore" "$files" \
    "'$B' --config '$W/config.toml' restore tree latest --target '$RESTORE' -q"
  rm -rf "$RESTORE" "${R:?}"/*
}

for n in $TREES; do tree "tree $n" flat "$n"; done
if [ "$DEEP" -gt 0 ]; then tree "deep tree $DEEP, long names" deep "$DEEP"; fi

if [ "$STREAM_GIB" -gt 0 ]; then
  bytes=$((STREAM_GIB * 1024 * 1024 * 1024))
  gen="yes 'INSERT INTO events VALUES (4711, now(), ''backup-agent scale benchmark row'', 0.5);' | head -c $bytes"
  config stream '[]' "verify = \"auto\"
[[jobs.stream.commands]]
name = \"dump.sql\"
run = [\"sh\", \"-c\", \"$gen\"]"
  measure "stream ${STREAM_GIB} GiB: gen | zstd -3 -T0 | ssh cat" 0 \
    "$gen | zstd -3 -T0 -q | $SSH $HOST 'cat > $R/ref.sql.zst'"
  measure "stream ${STREAM_GIB} GiB: backup run" 0 "'$B' --config '$W/config.toml' run stream -q"
  measure "stream ${STREAM_GIB} GiB: backup verify --read" 0 "'$B' --config '$W/config.toml' verify stream --read -q"
  measure "stream ${STREAM_GIB} GiB: ssh cat | zstd -dc" 0 "$SSH $HOST 'cat $R/ref.sql.zst' | zstd -dc"
  measure "stream ${STREAM_GIB} GiB: backup cat" 0 "'$B' --config '$W/config.toml' cat stream latest dump.sql"
fi
echo "results: $OUT"
