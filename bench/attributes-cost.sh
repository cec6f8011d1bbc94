#!/usr/bin/env bash
# Same-run cost of reading xattrs and ACLs on the bench's 20,000-file tree: backup run to a
# local remote with xattrs/acls on (default) and off, beside tar | zstd -3 -T0 to a file.
set -euo pipefail
B=${BACKUP_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/backup}
# The tree shared/bench/baseline.sh generates (make-dataset.sh), or any SRC=DIR.
SRC=${SRC:-/tmp/bench/data/tree}
W=$(mktemp -d /tmp/fidbench.XXXX)
for v in on off; do
  extra=""; [ $v = off ] && extra=$'xattrs = false\nacls = false'
  cat > $W/$v.toml <<EOT
[agent]
state_dir = "$W/state-$v"
[remotes.l]
type = "local"
path = "$W/remote-$v"
[jobs.tree]
remote = "l"
sources = ["$SRC"]
verify = "size"
$extra
EOT
done
hyperfine -w 1 -r ${RUNS:-5} -N \
  -p "rm -rf $W/remote-on $W/remote-off $W/ref.tar.zst" \
  -n 'tar | zstd -3 -T0 > file' "bash -c 'tar -C $SRC -cf - . | zstd -3 -T0 -q > $W/ref.tar.zst'" \
  -n 'backup run (xattrs, acls on)' "$B --config $W/on.toml run tree -q" \
  -n 'backup run (xattrs = false, acls = false)' "$B --config $W/off.toml run tree -q" \
  --export-markdown $W/result.md
cat $W/result.md
rm -rf "$W"
