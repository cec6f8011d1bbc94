#!/usr/bin/env bash
# Package test, for CI (root, disposable machine): build the .deb and .rpm with
# packaging/build.sh, then install the .deb for real with dpkg and check what an operator
# relies on: files, the service user and state dir, the conffile, `backup --version`,
# `backup check` on the shipped config, `systemd-analyze verify` and `security` on the unit,
# a same-version upgrade that keeps a local config edit, remove, then purge. The .rpm is
# inspected with `rpm -qp` (no RPM database needed). Ends with "N passed, N failed".
#
# Installs cargo-deb and cargo-generate-rpm (cargo install --locked, into $CARGO_HOME/bin,
# reused by later runs on the same machine) and missing Debian tools when absent.
set -uo pipefail

cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
    echo "error: tests/packaging.sh installs a .deb and must run as root" >&2
    exit 2
fi

pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"; dpkg --purge backup-agent >/dev/null 2>&1 || true' EXIT

# check WHAT CMD...: run CMD quietly; print its output only when it fails.
check() {
    local what=$1
    shift
    if "$@" >"$log" 2>&1; then
        pass=$((pass + 1))
        echo "ok: $what"
    else
        fail=$((fail + 1))
        echo "FAILED: $what"
        sed 's/^/    /' "$log"
    fi
}
# The same for a condition given as a bash snippet; further arguments become its $1, $2...
check_sh() {
    local what=$1 script=$2
    shift 2
    check "$what" bash -c "$script" _ "$@"
}

# A first real configuration as the README's steps make it (a key the service user owns,
# known_hosts with the server's entry, a job): `backup check` passes as the service user, as the
# unit's ExecStartPre runs it, and a key others can read fails it with the fix. Removed after.
service_user_check() {
    local d=/etc/backup-agent rc=0 out
    ssh-keygen -q -N '' -t ed25519 -f "$d/id_ed25519" || return 1
    chown backup-agent:backup-agent "$d/id_ed25519" || return 1
    echo "[backup.example.net]:2222 $(cut -d' ' -f1,2 "$d/id_ed25519.pub")" >"$d/known_hosts"
    cat >"$d/jobs.d/check.toml" <<EOF
[remotes.offsite]
host = "backup.example.net"
port = 2222
user = "backup"
identity_file = "$d/id_ed25519"
known_hosts = "$d/known_hosts"
path = "/srv/backups/{host}"

[jobs.etc]
remote = "offsite"
sources = ["/etc"]
EOF
    runuser -u backup-agent -- backup check || rc=1
    chmod 644 "$d/id_ed25519"
    if out=$(runuser -u backup-agent -- backup check 2>&1); then rc=1; fi
    echo "$out"
    grep -qF "chmod 600 $d/id_ed25519" <<<"$out" || rc=1
    rm -f "$d/id_ed25519" "$d/id_ed25519.pub" "$d/known_hosts" "$d/jobs.d/check.toml"
    return $rc
}

echo "== tools"
missing=()
for pair in strip:binutils dpkg-shlibdeps:dpkg-dev rpm:rpm systemd-analyze:systemd man:man-db \
    runuser:util-linux file:file ssh-keygen:openssh-client; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in cargo-deb cargo-generate-rpm; do
    if ! command -v "$tool" >/dev/null; then
        start=$SECONDS
        cargo install --locked "$tool" || exit 1
        echo "installed $tool in $((SECONDS - start)) s"
    fi
done

echo "== build"
packaging/build.sh || {
    echo "error: packaging/build.sh failed" >&2
    exit 1
}
version=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print([p for p in json.load(sys.stdin)["packages"] if p["name"]=="backup-agent"][0]["version"])')
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
deb=$(ls "$target"/debian/backup-agent_"$version"-*.deb)
rpm=$(ls "$target"/generate-rpm/backup-agent-"$version"-*.rpm)

echo "== .deb: install"
if ! dpkg -s backup-agent >/dev/null 2>&1 && [[ -e /etc/backup-agent ]]; then
    echo "error: /etc/backup-agent exists but the package is not installed; refusing to touch it" >&2
    exit 2
fi
dpkg --purge backup-agent >/dev/null 2>&1 || true
check "dpkg -i installs the package" dpkg -i "$deb"
for f in /usr/bin/backup /lib/systemd/system/backup-agent.service /etc/backup-agent/config.toml \
    /usr/share/man/man1/backup.1.gz /usr/share/man/man1/backup-run.1.gz \
    /usr/share/bash-completion/completions/backup /usr/share/zsh/vendor-completions/_backup \
    /usr/share/fish/vendor_completions.d/backup.fish /usr/share/doc/backup-agent/README.md \
    /usr/share/doc/backup-agent/copyright /usr/share/doc/backup-agent/examples/files.toml \
    /usr/share/doc/backup-agent/examples/postgres.toml \
    /usr/share/doc/backup-agent/examples/run-as-root.conf \
    /lib/systemd/system/backup-vault.service /usr/share/doc/backup-agent/vault.toml.example \
    /usr/share/backup-agent/grafana/backup-agent.json; do
    check "installed: $f" test -f "$f"
done
check_sh "the Grafana dashboard is valid JSON with panels" \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not d[\"panels\"])' \
        /usr/share/backup-agent/grafana/backup-agent.json"
check_sh "the binary is stripped" "file -L /usr/bin/backup | grep -q ', stripped'"
check_sh "jobs.d is a directory, root:backup-agent 0750" \
    '[[ $(stat -c "%U:%G %a" /etc/backup-agent/jobs.d) == "root:backup-agent 750" ]]'
check_sh "config.toml is root:backup-agent 0640 (it may hold tokens)" \
    '[[ $(stat -c "%U:%G %a" /etc/backup-agent/config.toml) == "root:backup-agent 640" ]]'
check_sh "config.toml is a conffile" \
    "dpkg-query -W -f='\${Conffiles}' backup-agent | grep -q '^ /etc/backup-agent/config.toml '"
check_sh "system user backup-agent: no login shell, home /var/lib/backup-agent" \
    'IFS=: read -r _ _ uid _ _ home shell < <(getent passwd backup-agent) &&
     ((uid < 1000)) && [[ $home == /var/lib/backup-agent && $shell == /usr/sbin/nologin ]]'
check_sh "state dir /var/lib/backup-agent is backup-agent 0700" \
    '[[ $(stat -c "%U:%G %a" /var/lib/backup-agent) == "backup-agent:backup-agent 700" ]]'
check_sh "backup --version says $version" "backup --version | grep -qx 'backup $version'"
check_sh "backup check passes on the shipped config, with no job" \
    "backup check | grep -q '0 job(s)'"
check_sh "backup check passes as the service user (config readable by its group)" \
    "runuser -u backup-agent -- backup check"
check "backup check as the service user: a good host passes, a 0644 key fails with the fix" \
    service_user_check
check_sh "man page has the exit codes" "zcat /usr/share/man/man1/backup.1.gz | grep -q 'EXIT STATUS'"
check "bash completion parses" bash -n /usr/share/bash-completion/completions/backup
check_sh "systemd-analyze verify: clean" \
    'out=$(systemd-analyze verify /lib/systemd/system/backup-agent.service 2>&1); echo "$out"; [[ -z $out ]]'
check_sh "systemd-analyze security: exposure below 3.0" \
    'line=$(systemd-analyze security --offline=true /lib/systemd/system/backup-agent.service |
            grep "Overall exposure level"); echo "$line";
     awk -v s="$(sed -E "s/.*: ([0-9.]+) .*/\1/" <<<"$line")" "BEGIN { exit !(s < 3.0) }"'
check_sh "systemd-analyze verify: the vault's unit is clean" \
    'out=$(systemd-analyze verify /lib/systemd/system/backup-vault.service 2>&1); echo "$out"; [[ -z $out ]]'
check_sh "the shipped vault.toml example loads once its user exists" \
    'd=$(mktemp -d); sed "s/^user = .*/user = \"root\"/; s|^roots = .*|roots = [\"$d\"]|" \
        /usr/share/doc/backup-agent/vault.toml.example >"$d/vault.toml" &&
     sed -i "s|^# state_dir = .*|state_dir = \"$d/state\"|" "$d/vault.toml" &&
     backup vault run --config "$d/vault.toml"; rc=$?; rm -rf "$d"; exit $rc'
check_sh "the service is neither enabled nor started" \
    '! ls /etc/systemd/system/*.wants/backup-agent.service 2>/dev/null | grep -q .'

echo "== .deb: upgrade (same version) keeps a local config edit"
marker="# local edit $$"
echo "$marker" >>/etc/backup-agent/config.toml
check "dpkg -i again (upgrade in place)" dpkg -i "$deb" </dev/null
check_sh "the edit survived" "grep -qxF '$marker' /etc/backup-agent/config.toml"
check_sh "config.toml is still root:backup-agent 0640" \
    '[[ $(stat -c "%U:%G %a" /etc/backup-agent/config.toml) == "root:backup-agent 640" ]]'
check "backup check still passes" backup check

echo "== .deb: remove keeps config, user and state; purge removes them"
echo "# operator's job" >/etc/backup-agent/jobs.d/keep.toml
check "dpkg --remove" dpkg --remove backup-agent
check "binary gone" test ! -e /usr/bin/backup
check "unit gone" test ! -e /lib/systemd/system/backup-agent.service
check_sh "config, user and state kept" \
    'grep -qxF "$1" /etc/backup-agent/config.toml && getent passwd backup-agent >/dev/null &&
     test -d /var/lib/backup-agent' "$marker"
check "dpkg --purge" dpkg --purge backup-agent
check_sh "package gone from dpkg" '! dpkg -s backup-agent >/dev/null 2>&1'
check "config.toml gone" test ! -e /etc/backup-agent/config.toml
check_sh "user and group gone" '! getent passwd backup-agent && ! getent group backup-agent'
check "state dir gone" test ! -e /var/lib/backup-agent
check_sh "no stat overrides left" '! dpkg-statoverride --list | grep -q backup-agent'
check "the operator's own file is left" test -f /etc/backup-agent/jobs.d/keep.toml
rm -rf /etc/backup-agent

echo "== .rpm (inspected, not installed)"
check_sh "rpm -qlp lists the files" '
    files=$(rpm -qlp "$1" 2>/dev/null); echo "$files"
    for f in /usr/bin/backup /usr/lib/systemd/system/backup-agent.service \
        /etc/backup-agent/config.toml /usr/share/man/man1/backup.1 \
        /usr/share/bash-completion/completions/backup /usr/share/zsh/site-functions/_backup \
        /usr/share/fish/vendor_completions.d/backup.fish /usr/share/doc/backup-agent/README.md \
        /usr/share/doc/backup-agent/examples/postgres.toml \
        /usr/lib/systemd/system/backup-vault.service \
        /usr/share/backup-agent/grafana/backup-agent.json; do
        grep -qxF "$f" <<<"$files" || { echo "missing: $f"; exit 1; }
    done' "$rpm"
check_sh "config.toml is %config(noreplace), root:backup-agent 0640" '
    line=$(rpm -qp --qf "[%{FILEFLAGS:fflags} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms} %{FILENAMES}\n]" "$1" 2>/dev/null |
           grep " /etc/backup-agent/config.toml$"); echo "$line"
    [[ $line == "cn root:backup-agent -rw-r----- /etc/backup-agent/config.toml" ]]' "$rpm"
check_sh "rpm -qp --scripts: user in %pre, state dir in %post, stop on erase" '
    s=$(rpm -qp --scripts "$1" 2>/dev/null); echo "$s"
    grep -q "^preinstall scriptlet" <<<"$s" && grep -q "useradd --system" <<<"$s" &&
    grep -q "install -d -m 0700 -o backup-agent" <<<"$s" &&
    grep -q "disable --now backup-agent.service" <<<"$s" &&
    ! grep -v "^ *#" <<<"$s" | grep -q "systemctl enable\|systemctl start"' "$rpm"
check_sh "rpm version is $version" '[[ -n $2 && $(rpm -qp --qf "%{VERSION}" "$1" 2>/dev/null) == "$2" ]]' "$rpm" "$version"

echo "packaging: $pass passed, $fail failed"
((fail == 0))
