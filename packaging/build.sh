#!/usr/bin/env bash
# Build the .deb and .rpm of backup-agent: one release build (the binary and the asset
# generator together, so the library compiles once), man pages and completions generated
# from the real CLI, then cargo-deb and cargo-generate-rpm without rebuilding.
#
# Usage: packaging/build.sh            -> target/debian/*.deb, target/generate-rpm/*.rpm
# Needs: cargo-deb, cargo-generate-rpm (cargo install --locked ...), strip (binutils),
#        dpkg-shlibdeps (dpkg-dev) for the .deb's Depends.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# The package metadata names target/packaging/ literally, whatever CARGO_TARGET_DIR says.
out=$root/target/packaging

for tool in cargo-deb cargo-generate-rpm strip; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool is not installed" >&2
        echo "hint: cargo install --locked cargo-deb cargo-generate-rpm; apt-get install binutils" >&2
        exit 2
    fi
done

# BACKUP_PACKAGE_PROFILE=dev reuses the test build (CI install-tests the package; what ships
# is built with the default, release).
profile=${BACKUP_PACKAGE_PROFILE:-release}
bindir=$target/$([[ $profile == dev ]] && echo debug || echo "$profile")
echo "== $profile build"
cargo build --profile "$profile" --locked -p backup-agent -p backup-agent-gen-assets

echo "== man pages and completions -> $out"
rm -rf "$out"
mkdir -p "$out/doc"
"$bindir/backup-agent-gen-assets" "$out"
# Both packagers take the binary from here, stripped once.
strip -o "$out/backup" "$bindir/backup"
cp README.md "$out/doc/README.md"

echo "== .deb"
cargo deb --no-build -p backup-agent
echo "== .rpm"
cargo generate-rpm

ls -l "$target"/debian/*.deb "$target"/generate-rpm/*.rpm
