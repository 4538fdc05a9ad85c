#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A 1 GiB sparse file in a lower branch and one in the upper: size, st_blocks
# (holes stay holes), zeros at the end, data in the middle (page-aligned and
# straddling a page boundary), EOF, and a full-file compare with the branch.
# Usage: read-sparse.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1" "$T/b2" "$T/u" "$M"
G=$((1 << 30))
MID=$((512 << 20))
truncate -s 1G "$T/b1/sparse"
printf 'MIDDLE-DATA-0123456789' | dd of="$T/b1/sparse" bs=1 seek=$MID conv=notrunc status=none
printf 'STRADDLE' | dd of="$T/b1/sparse" bs=1 seek=$((MID + 8192 - 4)) conv=notrunc status=none
truncate -s $((G + 4096)) "$T/u/sparse2"
printf 'upper-data' | dd of="$T/u/sparse2" bs=1 seek=$((G + 100)) conv=notrunc status=none
truncate -s 1M "$T/b2/sparse2"      # shadowed by u/sparse2

uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" || uf_finish

uf_check_out "size of the lower sparse file" "1073741824" stat -c %s "$M/sparse"
uf_check_out "size of the upper sparse file (shadows b2's 1 MiB one)" "1073745920" stat -c %s "$M/sparse2"
blocks=$(stat -c %b "$M/sparse")
if [ -n "$blocks" ] && [ "$blocks" -lt 2048 ]; then
	uf_pass "st_blocks of the sparse file stays small ($blocks)"
else
	uf_fail "st_blocks of the sparse file stays small" "command: stat -c %b $M/sparse" \
		"expected: < 2048 (branch has $(stat -c %b "$T/b1/sparse"))" "actual:   $blocks"
fi

uf_check_out "last MiB of the file: 1048576 bytes, all zero" "1048576 0" \
	bash -c 'echo $(dd if="$1" bs=1M skip=1023 count=1 status=none | wc -c) \
		$(dd if="$1" bs=1M skip=1023 count=1 status=none | tr -d "\0" | wc -c)' _ "$M/sparse"
uf_check_out "last 10 bytes (tail -c) are zero" "00000000000000000000" \
	bash -c 'tail -c 10 "$1" | od -An -v -tx1 | tr -d " \n"' _ "$M/sparse"
uf_check_out "dd skip to the middle: page-aligned data" "MIDDLE-DATA-0123456789" \
	dd if="$M/sparse" iflag=skip_bytes,count_bytes skip=$MID count=22 bs=64K status=none
uf_check_out "dd skip: data straddling a page boundary" "STRADDLE" \
	dd if="$M/sparse" iflag=skip_bytes,count_bytes skip=$((MID + 8192 - 4)) count=8 bs=4096 status=none
uf_check_out "bytes around the middle data are zero" "0 22 0" \
	bash -c 'a=$(dd if="$1" iflag=skip_bytes,count_bytes skip=$(($2 - 100)) count=100 bs=4K status=none | tr -d "\0" | wc -c)
		b=$(dd if="$1" iflag=skip_bytes,count_bytes skip=$2 count=22 bs=4K status=none | tr -d "\0" | wc -c)
		c=$(dd if="$1" iflag=skip_bytes,count_bytes skip=$(($2 + 22)) count=100 bs=4K status=none | tr -d "\0" | wc -c)
		echo $a $b $c' _ "$M/sparse" $MID
uf_check_out "read at EOF returns 0 bytes" "0" \
	bash -c 'dd if="$1" iflag=skip_bytes skip=$2 bs=4K count=1 status=none | wc -c' _ "$M/sparse" $G
uf_check_out "read across EOF is short" "10" \
	bash -c 'dd if="$1" iflag=skip_bytes,count_bytes skip=$(($2 - 10)) count=4096 bs=4096 status=none | wc -c' _ "$M/sparse" $G
uf_check_out "upper sparse file: data past 1 GiB" "upper-data" \
	dd if="$M/sparse2" iflag=skip_bytes,count_bytes skip=$((G + 100)) count=10 bs=4K status=none
uf_check "cmp of the whole 1 GiB union file with the branch file" cmp "$M/sparse" "$T/b1/sparse"
uf_finish
