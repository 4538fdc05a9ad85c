#!/bin/sh
# Quick start, part 1: install what is missing, build, and mount a demo union
# of three branches (base, updates, upper) generated in ./demo at ./demo/mnt.
# Unmount with: fusermount3 -u demo/mnt
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
# Only what the demo needs (the test command installs the rest).
UF_PACKAGES="gcc meson ninja-build pkg-config libfuse3-dev libglib2.0-dev fuse3" "$top/scripts/deps.sh"
"$top/scripts/build.sh" src/unionfuse

demo="$top/demo"
if mountpoint -q "$demo/mnt" 2>/dev/null; then
	fusermount3 -u "$demo/mnt"
fi
rm -rf "$demo"
mkdir -p "$demo/base/etc" "$demo/base/docs" "$demo/updates/etc" "$demo/updates/docs" \
	"$demo/upper" "$demo/mnt"
echo "base motd"          > "$demo/base/etc/motd"
echo "base config"        > "$demo/base/etc/app.conf"
echo "old readme"         > "$demo/base/docs/README"
echo "to be deleted"      > "$demo/base/docs/obsolete.txt"
echo "updated config"     > "$demo/updates/etc/app.conf"
echo "new in updates"     > "$demo/updates/docs/CHANGES"
ln -s ../etc/motd "$demo/base/docs/motd-link"
# The updates branch deletes docs/obsolete.txt with an aufs/OCI-style whiteout.
: > "$demo/updates/docs/.wh.obsolete.txt"

"$top/build/src/unionfuse" "$demo/base:$demo/updates:$demo/upper" "$demo/mnt"
echo "unionfuse mounted at $demo/mnt (branches: base < updates < upper):"
(cd "$demo/mnt" && find . | sort)
echo "etc/app.conf says: $(cat "$demo/mnt/etc/app.conf")"
echo "hello from the union" > "$demo/mnt/etc/motd"
echo "after writing etc/motd, the upper holds: $(cd "$demo/upper" && find . -type f | sort | tr '\n' ' ')"
echo "base is untouched: $(cat "$demo/base/etc/motd")"
echo "unmount with: fusermount3 -u $demo/mnt"
