#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Power loss during copy-up: the copy's data must be on disk before the
# name that publishes it.  The daemon runs under strace -f; copy-ups of
# small and big (sparse) lower files by a write, metadata-only copies by
# chmod and setxattr and their completion by a write, on an upper on the
# test's disk.  helpers/fsyncorder.py checks that each linkat() of an
# O_TMPFILE comes after an fsync() of it (and after its last write), and
# each fremovexattr() of overlay.metacopy after an fdatasync() of the file.
# (-o volatile, which would skip them, is refused by the daemon.)
# Usage: crash-fsync.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
ORDER=$(cd "$(dirname "$0")" && pwd)/helpers/fsyncorder.py

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd strace truncate setfattr
uf_tmp

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
mkdir -p "$L/d" "$U" "$M"
for i in 0 1 2; do
	head -c 20000 /dev/urandom >"$L/d/small$i"
	truncate -s 1M "$L/d/big$i"
	head -c 70000 /dev/urandom | dd of="$L/d/big$i" bs=4096 seek=10 conv=notrunc status=none
done
mkdir -p "$L/d/sub"

# LeakSanitizer cannot run under ptrace: no leak check for this daemon.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -o "$UF_TMP/strace.log" \
	-e trace=openat,fsync,fdatasync,linkat,renameat2,fremovexattr,close,pwrite64,write,copy_file_range,ftruncate \
	"$BIN" -f -o metacopy=on "$L:$U" "$M" 2>"$UF_TMP/daemon.err" &
SPID=$!
uf_wait_mounted "$M" 20 || { uf_fail "the daemon mounts under strace" "$(cat "$UF_TMP/daemon.err")"; uf_finish; }

# full copies
uf_check_errno "write copies up small0" OK write "$M/d/small0"
uf_check_errno "write copies up big0 (sparse)" OK write "$M/d/big0"
uf_check_errno "truncate copies up small1" OK truncate "$M/d/small1" 100
# metadata-only copies, then their data
uf_check_errno "chmod makes a metadata-only copy of big1" OK chmod "$M/d/big1" 600
uf_check_errno "setxattr makes a metadata-only copy of big2" OK setxattr "$M/d/big2" user.k v
uf_check_errno "write completes big1's copy" OK write "$M/d/big1"
uf_check_errno "write completes big2's copy" OK write "$M/d/big2"
uf_check_errno "chmod of a dir copies it up" OK chmod "$M/d/sub" 700
uf_umount "$M"
wait "$SPID"

out=$("$UF_PYTHON" "$ORDER" "$UF_TMP/strace.log")
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
uf_check_eq "every copy is fsync'd before it is published, every completed metacopy before its mark goes" 0 "$rc"
n=$(printf '%s\n' "$out" | grep -c '^OK linkat')
m=$(printf '%s\n' "$out" | grep -c '^OK fremovexattr')
uf_check_eq "the log shows the 5 copies published by linkat and the 2 completions" "5 2" "$n $m"
for f in small0 big0 big1 big2; do
	[ -f "$U/d/$f" ] || uf_fail "the upper holds $f"
done
uf_finish
