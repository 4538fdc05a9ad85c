#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Metadata-only copy-up (the kernel's metacopy=on format): chmod, chown,
# utimes and setxattr of a big lower file copy only its metadata (a hole of
# the right size marked trusted.overlay.metacopy); the data stays in the
# lower until the first write, which copies it in place and drops the mark.
# The view never changes, across a remount too, and the kernel overlayfs
# with metacopy=on mounts the result the same. -o metacopy=off copies whole.
# Usage: write-metacopy.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l" "$T/u" "$T/w" "$M"
MID=$((300 << 20))
truncate -s 1G "$T/l/big"
printf 'DATA-IN-THE-MIDDLE' | dd of="$T/l/big" bs=1 seek=$MID conv=notrunc status=none
head -c 200000 /dev/urandom >"$T/l/dense"
printf 'small' >"$T/l/small"
lower_sum=$(cd "$T/l" && sha256sum big dense small)

middle() { dd if="$1" iflag=skip_bytes,count_bytes skip=$MID count=18 bs=64K status=none; }
is_meta() { getfattr -h --absolute-names -n trusted.overlay.metacopy "$1" >/dev/null 2>&1 && echo meta || echo full; }

uf_mount "$BIN" "$T/l:$T/u" "$M" -o metacopy=on || uf_finish
start=$(date +%s%N)
chmod 600 "$M/big"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -lt 1000 ]; then
	uf_pass "chmod of a 1 GiB lower file copies no data (${ms} ms)"
else
	uf_fail "chmod of a 1 GiB lower file copies no data" "expected: well under 1 s" "actual:   ${ms} ms"
fi
chown 12:34 "$M/dense"
touch -d '2001-02-03 04:05:06' "$M/small"
blocks=$(stat -c %b "$T/u/big")
if [ "$blocks" -lt 64 ]; then
	uf_pass "upper big has no data blocks ($blocks)"
else
	uf_fail "upper big has no data blocks" "expected: < 64" "actual:   $blocks"
fi
uf_check_out "upper big is a metacopy" "meta" is_meta "$T/u/big"
uf_check_out "upper dense (200 kB) is a metacopy" "meta" is_meta "$T/u/dense"
uf_check_out "upper small file is copied whole" "full small" bash -c 'echo $(getfattr -h --absolute-names -n trusted.overlay.metacopy "$1" >/dev/null 2>&1 && echo meta || echo full) $(cat "$1")' _ "$T/u/small"
uf_check_out "view: mode and size of big" "600 1073741824" stat -c "%a %s" "$M/big"
uf_check_out "view: owner of dense" "12:34" stat -c "%u:%g" "$M/dense"
uf_check_out "view: data of big still read from the lower" "DATA-IN-THE-MIDDLE" middle "$M/big"
uf_check "view: dense reads as the lower" cmp "$M/dense" "$T/l/dense"
dense_blocks=$(stat -c %b "$T/l/dense")
uf_check_out "view: st_blocks of dense are the lower data's" "$dense_blocks" stat -c %b "$M/dense"

uf_umount "$M"
uf_mount "$BIN" "$T/l:$T/u" "$M" -o metacopy=on || uf_finish
uf_check_out "after a remount: big still reads the lower data" "DATA-IN-THE-MIDDLE" middle "$M/big"
uf_check "after a remount: dense still reads as the lower" cmp "$M/dense" "$T/l/dense"

printf 'X' | dd of="$M/big" bs=1 seek=10 conv=notrunc status=none
uf_check_out "first write: data copied, mark dropped" "full" is_meta "$T/u/big"
uf_check_out "first write: the written byte and the old data" "X DATA-IN-THE-MIDDLE" \
	bash -c 'echo $(dd if="$1" bs=1 skip=10 count=1 status=none) $(dd if="$1" iflag=skip_bytes,count_bytes skip=$2 count=18 bs=64K status=none)' _ "$T/u/big" $MID
blocks=$(stat -c %b "$T/u/big")
if [ "$blocks" -lt 4096 ]; then
	uf_pass "the data copy keeps the holes ($blocks blocks)"
else
	uf_fail "the data copy keeps the holes" "expected: < 4096 blocks" "actual:   $blocks"
fi
view=$(tree_snapshot "$M")
uf_umount "$M"

if [ "$(id -u)" = 0 ] && grep -qw overlay /proc/filesystems; then
	ovl_mount "$T/l" "$T/u" "$T/w" "$M" redirect_dir=on,metacopy=on
	uf_check_eq "the kernel (metacopy=on) shows the same tree (-kernel +unionfuse)" \
		"$(tree_snapshot "$M")" "$view" "diff <(tree_snapshot kernel) <(tree_snapshot unionfuse)"
	ovl_umount "$M"
fi

rm -rf "$T/u" && mkdir "$T/u"
uf_mount "$BIN" "$T/l:$T/u" "$M" -o metacopy=off || uf_finish
chmod 640 "$M/dense"
uf_check_out "-o metacopy=off: chmod copies the data" "full" is_meta "$T/u/dense"
uf_check "-o metacopy=off: the copy has the data" cmp "$T/u/dense" "$T/l/dense"
uf_umount "$M"
uf_check_out "lower branch unchanged" "$lower_sum" bash -c 'cd "$1" && sha256sum big dense small' _ "$T/l"
uf_finish
