#!/usr/bin/env bash
# A real backup on a ready default, with no set-up: builds `backup`, starts a throwaway OpenSSH
# sshd on 127.0.0.1 with fresh keys in a temp dir, backs up a sample tree over SFTP, lists it,
# checks it with `sha256sum -c`, restores it with `zstd -dc | tar -x` alone, compares, and stops
# its sshd (by PID). Nothing outside the temp dir is touched, except installing openssh-server
# and zstd with apt-get when they are missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "==> building backup"
cargo build --quiet --bin backup
BACKUP=$PWD/target/debug/backup

W=$(mktemp -d /tmp/backup-quickstart.XXXXXX)
SSHD_PID=
cleanup() { [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_NAME=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$W/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_ed25519"
cp "$W/client_ed25519.pub" "$W/authorized_keys"
mkdir -p "$W/remote" "$W/state"
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

# The sample tree: this repository's sources and examples.
mkdir -p "$W/sample"
cp -a src examples "$W/sample/"
ln -s src/main.rs "$W/sample/entry-point"

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
sources = ["$W/sample"]
exclude = ["*.tmp"]

[jobs.sample.retention]
keep_last = 3
CONF
export BACKUP_CONFIG=$W/config.toml

echo "==> backup check --connect"
"$BACKUP" check --connect
echo "==> backup run sample"
"$BACKUP" run sample
echo "==> backup list sample"
"$BACKUP" list sample
SNAP=$(ls "$W/remote/sample" | grep -v '^\.' | tail -1)
echo "==> on the server: sha256sum -c SHA256SUMS"
(cd "$W/remote/sample/$SNAP" && sha256sum -c SHA256SUMS)
echo "==> restore with standard tools: zstd -dc files.tar.zst | tar -x"
mkdir -p "$W/restored"
zstd -dc "$W/remote/sample/$SNAP/files.tar.zst" | tar -x -C "$W/restored"
diff -r --no-dereference "$W/sample" "$W/restored/${W#/}/sample"
echo "==> restored tree is identical to the source. Quickstart OK."
