#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# -o volatile (the kernel's) and -o fsync=0 (fuse-overlayfs's): copies are
# not fsync'd and fsync through the union does nothing.  A volatile mount
# keeps the kernel's marker WORKDIR/work/incompat/volatile while mounted: a
# clean unmount removes it (after syncfs), a crash leaves it, and then the
# next mount is refused, by unionfuse and by the kernel overlayfs alike,
# with a line saying what to do.  volatile without a workdir is refused.
# Usage: mount-volatile.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd strace
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
L=$T/l U=$T/u W=$T/w
mkdir -p "$L" "$U" "$W" "$M" "$T/k"
printf 'lower data' >"$L/f"
head -c 300000 /dev/urandom >"$L/big"
MARK=$W/work/incompat/volatile

out=$("$BIN" -o volatile "$L:$U" "$M" 2>&1)
rc=$?
uf_check_eq "volatile without a workdir: refused, one line" \
	"1 unionfuse: -o volatile needs a workdir (for the marker that refuses the upper after a crash)" \
	"$rc $out"

# --- a clean volatile mount: the marker lives while mounted
uf_mount_args "$BIN" "$M" -o "volatile,lowerdir=$L,upperdir=$U,workdir=$W" "$M" || uf_finish
uf_check "while mounted, the kernel's volatile marker is in the workdir" test -d "$MARK"
pid=$(uf_daemon_pid "$M")
# A copy-up and an fsync through the union: no fsync reaches the upper.
strace -f -qq -e trace=fsync,fdatasync,syncfs -p "$pid" -o "$UF_TMP/strace" &
spid=$!
sleep 0.5
printf ' more' >>"$M/f"
"$UF_PYTHON" -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); os.fsync(fd); os.close(fd)' "$M/big"
sleep 0.3
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
uf_check_eq "copy-up and fsync through a volatile union: no fsync of the upper" "" \
	"$(grep -E 'fsync|fdatasync' "$UF_TMP/strace")"
uf_check_eq "the copy is whole" "lower data more" "$(cat "$U/f")"
uf_umount "$M"
# The daemon removes it as it exits, after the unmount.
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
uf_check "a clean unmount removes the marker" test ! -e "$MARK"
uf_check "...and the kernel mounts that upper again" \
	mount -t overlay ovl -o "lowerdir=$L,upperdir=$U,workdir=$W" "$T/k"
umount "$T/k" 2>/dev/null
rm -rf "$W" && mkdir "$W"

# --- a crash: the marker stays and the next mount is refused
uf_mount_args "$BIN" "$M" -o "volatile,lowerdir=$L,upperdir=$U,workdir=$W" "$M" || uf_finish
pid=$(uf_daemon_pid "$M")
kill -9 "$pid"
uf_wait_unmounted "$M" 2 || fusermount3 -uz "$M" 2>/dev/null
uf_check "after a crash the marker is still there" test -d "$MARK"
out=$("$BIN" -o "lowerdir=$L,upperdir=$U,workdir=$W" "$M" 2>&1)
rc=$?
uf_check_eq "the next mount is refused, with what to do" \
	"1 unionfuse: the upper was mounted volatile and not cleanly unmounted: it may have lost data; start over with an empty upper and workdir, or remove '$W/work/incompat/volatile' if you know it is whole" \
	"$rc $out"
uf_check "the kernel overlayfs refuses it too" \
	bash -c '! mount -t overlay ovl -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" 2>/dev/null' \
	_ "$L" "$U" "$W" "$T/k"
umount "$T/k" 2>/dev/null
rm -rf "$MARK"
uf_mount_args "$BIN" "$M" -o "lowerdir=$L,upperdir=$U,workdir=$W" "$M" &&
	uf_check "with the marker removed it mounts" test -f "$M/f" && uf_umount "$M"

# --- fsync=0 (fuse-overlayfs): no fsync, no workdir needed, no marker
rm -rf "$U" "$W" && mkdir -p "$U" "$W"
uf_mount "$BIN" "$L:$U" "$M" -o fsync=0 || uf_finish
uf_check "-o fsync=0 mounts without a workdir" test -f "$M/f"
uf_umount "$M"
uf_check_eq "lower untouched" "lower data" "$(cat "$L/f")"
uf_finish
