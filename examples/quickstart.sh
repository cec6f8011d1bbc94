#!/usr/bin/env bash
# A real backup on a ready default, with no set-up: builds the release `backup`, starts a
# throwaway OpenSSH sshd on 127.0.0.1 with fresh keys, then shows what an operator does: check,
# run (a sample tree and a database-like dump, streamed over SFTP), list, verify, `sha256sum -c`
# on the server, restore and compare, `cat` of the dump, and a short daemon run with `status`,
# stopped by SIGTERM to its PID. Its files stay in one directory (printed at the end) until you
# delete it or run `examples/quickstart.sh --clean`; running it again starts afresh there.
# Nothing else is touched, except installing openssh-server and zstd with apt-get when they are
# missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

W=${BACKUP_QUICKSTART_DIR:-${TMPDIR:-/tmp}/backup-quickstart}
if [ "${1:-}" = --clean ]; then
  if [ -f "$W/sshd.pid" ]; then kill "$(cat "$W/sshd.pid")" 2>/dev/null || true; fi
  rm -rf "$W"
  echo "removed $W"
  exit 0
fi

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v zstd >/dev/null || need+=(zstd)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "quickstart needs: ${need[*]} (sudo apt-get install ${need[*]})" >&2; exit 1
  fi
fi
[ -d /run/sshd ] || { [ "$(id -u)" = 0 ] && mkdir -p /run/sshd && chmod 755 /run/sshd; } || true

echo "==> cargo build --release (the first build takes a few minutes; later ones seconds)"
cargo build --release --quiet --bin backup
BACKUP=${CARGO_TARGET_DIR:-$PWD/target}/release/backup

# Afresh on every run: stop the sshd an earlier run may have left, then start over.
if [ -f "$W/sshd.pid" ]; then kill "$(cat "$W/sshd.pid")" 2>/dev/null || true; fi
rm -rf "$W"
mkdir -p "$W/remote" "$W/state" "$W/sample"
SSHD_PID= DAEMON_PID=
stop() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
  if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null || true; fi
}
trap stop EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_NAME=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$W/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_ed25519"
cp "$W/client_ed25519.pub" "$W/authorized_keys"
cat >"$W/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $PORT
HostKey $W/host_ed25519
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
SSHD_PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$W/host_ed25519.pub")" >"$W/known_hosts"

# The sample tree: this repository's sources and examples, and a symlink.
cp -a src examples "$W/sample/"
ln -s src/main.rs "$W/sample/entry-point"
# A database-like dump: SQL text on stdout, as `pg_dump` or `sqlite3 DB .dump` print it.
cat >"$W/dump.sh" <<'SH'
echo "CREATE TABLE customers (id integer PRIMARY KEY, name text);"
for i in $(seq 1 200); do echo "INSERT INTO customers VALUES ($i, 'customer $i');"; done
SH

cat >"$W/config.toml" <<CONF
[agent]
state_dir = "$W/state"

[remotes.local]
host = "127.0.0.1"
port = $PORT
user = "$USER_NAME"
identity_file = "$W/client_ed25519"
known_hosts = "$W/known_hosts"
path = "$W/remote"

[jobs.sample]
remote = "local"
schedule = "*/5 * * * * *"   # every 5 seconds (6 fields: seconds first), for the daemon below
sources = ["$W/sample"]
exclude = ["*.tmp"]

[[jobs.sample.commands]]
name = "customers.sql"       # stored as customers.sql.zst, streamed while the command runs
run = ["sh", "$W/dump.sh"]
max_shrink = "50%"           # a dump under half of the last one fails the run

[jobs.sample.retention]
keep_last = 3
CONF
export BACKUP_CONFIG=$W/config.toml
step() { printf '\n==> %s\n' "$*"; }

step "backup check --connect"
"$BACKUP" check --connect
step "backup run sample"
"$BACKUP" run sample
step "backup list sample"
"$BACKUP" list sample
step "backup verify sample latest --read"
"$BACKUP" verify sample latest --read
SNAP=$(ls "$W/remote/sample" | grep -v '^\.' | tail -1)
step "on the server, without this program: sha256sum -c SHA256SUMS"
(cd "$W/remote/sample/$SNAP" && sha256sum -c SHA256SUMS)
step "backup restore sample latest --target $W/restored, then diff against the source"
"$BACKUP" restore sample latest --target "$W/restored"
diff -r --no-dereference "$W/sample" "$W/restored/${W#/}/sample"
cmp <(sh "$W/dump.sh") "$W/restored/customers.sql"
echo "restored tree and dump are identical to the originals"
step "the same with standard tools: zstd -dc files.tar.zst | tar -x"
mkdir -p "$W/restored-by-tar"
zstd -dc "$W/remote/sample/$SNAP/files.tar.zst" | tar -x -C "$W/restored-by-tar"
diff -r --no-dereference "$W/sample" "$W/restored-by-tar/${W#/}/sample" && echo identical
step "backup cat sample latest customers.sql | head -3"
"$BACKUP" cat sample latest customers.sql | head -3

step "backup daemon (the schedule fires every 5 s; logs in $W/daemon.log)"
"$BACKUP" daemon 2>"$W/daemon.log" &
DAEMON_PID=$!
before=$(ls "$W/remote/sample" | grep -vc '^\.' || true)
for _ in $(seq 300); do
  grep -q "committed" "$W/daemon.log" && break
  sleep 0.1
done
step "backup status"
"$BACKUP" status
step "kill -TERM $DAEMON_PID (the daemon lets a running job finish, then exits 0)"
kill -TERM "$DAEMON_PID"
if wait "$DAEMON_PID"; then echo "daemon exited 0"; else echo "daemon exited $?" >&2; exit 1; fi
DAEMON_PID=
grep -E "daemon (started|stopped)|committed" "$W/daemon.log" | sed 's/^/  /'
echo "snapshots before the daemon: $before, after: $(ls "$W/remote/sample" | grep -vc '^\.' || true) (keep_last = 3)"
stop
SSHD_PID=

cat <<DONE

Quickstart OK. Everything is in $W:
  config.toml        the config (export BACKUP_CONFIG=$W/config.toml to try more commands)
  remote/sample/     the server side: one directory per snapshot, plain .zst files, SHA256SUMS
  restored/          what \`backup restore\` wrote;  state/  the agent's state;  daemon.log
The sshd is stopped. Delete the directory when done: rm -rf $W  (or examples/quickstart.sh --clean)
DONE
