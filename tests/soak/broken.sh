#!/usr/bin/env bash
# Shows that the soak's checker catches a broken build:
#   tests/soak/broken.sh NAME [soak.sh options]      NAME: a patch in tests/soak/broken/
# applies tests/soak/broken/NAME.patch to a scratch copy of this tree (the committed HEAD, from
# git archive), builds it into its own target dir ($BROKEN_TARGET_DIR, default
# $CARGO_TARGET_DIR-broken), and runs `tests/soak.sh --ci` (or the options given) against that
# binary. Exit 0 when the soak failed, as it must; 1 when the broken build passed it. The
# scratch copy is removed afterwards; the work tree and its target dir are left alone. Never
# run in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
name=${1:?usage: tests/soak/broken.sh NAME [soak options]; NAME in $here/broken/}
shift
patch=$here/broken/$name.patch
[ -f "$patch" ] || { echo "broken.sh: no $patch" >&2; exit 2; }
[ $# -gt 0 ] || set -- --ci

scratch=$(mktemp -d "/tmp/backup-broken-$name-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
git -C "$root" archive HEAD | tar -x -C "$scratch"
patch -d "$scratch" -p1 --quiet <"$patch"

own=${CARGO_TARGET_DIR:-$root/target}
target=${BROKEN_TARGET_DIR:-$own-broken}
if [ ! -d "$target" ] && [ -d "$own/debug/deps" ]; then
  # Start from the dependencies already built: hard links for the big artifacts (cargo and
  # rustc replace files they rebuild, they do not write through them), copies of the small
  # fingerprints, and none of this package's own files, which the build writes anew.
  mkdir -p "$target/debug"
  cp -al "$own/debug/deps" "$own/debug/build" "$target/debug/"
  cp -a "$own/debug/.fingerprint" "$target/debug/"
  find "$target/debug" -maxdepth 2 \( -name 'backup*' -o -name 'libbackup*' \) -exec rm -rf {} +
fi
echo "broken.sh: building $name into $target"
(cd "$scratch" && CARGO_TARGET_DIR=$target cargo build --quiet --bin backup)
echo "broken.sh: tests/soak.sh $* against the $name build"
if BACKUP_BIN=$target/debug/backup "$root/tests/soak.sh" "$@"; then
  echo "broken.sh: the $name build PASSED the soak: the checker missed it"
  exit 1
fi
echo "broken.sh: the soak caught the $name build"
