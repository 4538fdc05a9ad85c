#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What `unionfuse unify` saves: N sandboxes each holding the same tree of
# SIZE MiB in its upper (plus one small file of its own) are unified into
# one store. Prints the disk used (du) before and after, and the page cache
# used (/proc/meminfo Cached, after dropping caches) when every sandbox's
# tree is read through its own union: before unify, after it through
# unionfuse (passthrough as the binary does it), with -o passthrough=on
# when a 3.18 build is given, and through the kernel overlayfs.
#
#   sudo bench/unify.sh [-n N] [-s SIZE_MIB] [-d DIR] [--318 BUILD-318-BINARY]
#
# Needs root (trusted.* xattrs, drop_caches, mount -t overlay).
set -eu
N=20
SIZE=100
DIR=/var/tmp/unionfuse-bench-unify
BIN=${UNIONFUSE:-build/src/unionfuse}
BIN318=
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift 2 ;;
	-s) SIZE=$2; shift 2 ;;
	-d) DIR=$2; shift 2 ;;
	--318) BIN318=$2; shift 2 ;;
	*) echo "usage: $0 [-n N] [-s SIZE_MIB] [-d DIR] [--318 BIN]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 2; }
BIN=$(realpath "$BIN")
[ -z "$BIN318" ] || BIN318=$(realpath "$BIN318")

cleanup() {
	local m
	for m in "$DIR"/m*; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount "$m"; }
	done
	rm -rf "$DIR"
}
trap cleanup EXIT
rm -rf "$DIR"
mkdir -p "$DIR/tree"

# The shared tree: SIZE files of 1 MiB in 10 dirs, random (incompressible).
for i in $(seq 0 $((SIZE - 1))); do
	mkdir -p "$DIR/tree/d$((i % 10))"
	head -c 1M /dev/urandom >"$DIR/tree/d$((i % 10))/f$i"
done
for n in $(seq 1 "$N"); do
	mkdir -p "$DIR/sb$n/lower" "$DIR/sb$n/upper" "$DIR/sb$n/upper.work" "$DIR/m$n"
	echo "sandbox $n" >"$DIR/sb$n/lower/id"
	cp -a "$DIR/tree/." "$DIR/sb$n/upper/"
	head -c 8192 /dev/urandom >"$DIR/sb$n/upper/own"
done
rm -rf "$DIR/tree"
sync

du_mib() { du -sm "$DIR" | cut -f1; }
cached_kib() { awk '/^Cached:/ { print $2 }' /proc/meminfo; }

# read_all MOUNT-FUNCTION: mount all N sandboxes with it, drop
# caches, read every file through every mount, print the Cached delta (MiB)
# and the seconds the reads took; unmount.
read_all() {
	local how=$1 n before after t0 t1
	for n in $(seq 1 "$N"); do
		"$how" "$n" "$DIR/m$n"
	done
	sync
	echo 3 >/proc/sys/vm/drop_caches
	before=$(cached_kib)
	t0=$(date +%s.%N)
	for n in $(seq 1 "$N"); do
		find "$DIR/m$n" -type f -exec cat {} + >/dev/null
	done
	t1=$(date +%s.%N)
	after=$(cached_kib)
	for n in $(seq 1 "$N"); do
		fusermount3 -u "$DIR/m$n" 2>/dev/null || umount "$DIR/m$n"
	done
	printf '%6d MiB cached, %6.1f s' $(((after - before) / 1024)) "$(echo "$t1 - $t0" | bc)"
}

plain_fuse() { "$BIN" -o "lowerdir=$DIR/sb$1/lower,upperdir=$DIR/sb$1/upper,workdir=$DIR/sb$1/upper.work" "$2"; }
line_of() { sed -n "${1}p" "$DIR/lines"; }
unified_fuse() { "$BIN" -o "$(line_of "$1")" "$2"; }
unified_fuse_pt() { "$BIN318" -o "$(line_of "$1"),passthrough=on" "$2"; }
unified_kernel() { mount -t overlay overlay -o "$(line_of "$1")" "$2"; }

echo "# $N sandboxes x $SIZE MiB, $(uname -r), $("$BIN" -V | head -n1)"
du_before=$(du_mib)
r_before=$(read_all plain_fuse)
specs=()
for n in $(seq 1 "$N"); do specs+=("$DIR/sb$n/lower:$DIR/sb$n/upper"); done
t0=$(date +%s.%N)
"$BIN" unify --store "$DIR/store" "${specs[@]}" >"$DIR/lines"
t1=$(date +%s.%N)
sync
du_after=$(du_mib)
printf 'disk (du):                 before %6d MiB   after %6d MiB   (unify took %.1f s)\n' \
	"$du_before" "$du_after" "$(echo "$t1 - $t0" | bc)"
printf 'read all, before unify (unionfuse):          %s\n' "$r_before"
printf 'read all, after, unionfuse (no passthrough):  %s\n' "$(read_all unified_fuse)"
[ -z "$BIN318" ] ||
	printf 'read all, after, unionfuse passthrough=on:   %s\n' "$(read_all unified_fuse_pt)"
printf 'read all, after, kernel overlayfs:           %s\n' "$(read_all unified_kernel)"
