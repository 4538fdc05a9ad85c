#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A full upper: a copy-up that does not fit fails with ENOSPC and leaves no
# partial file in the upper; the lower is untouched; the union keeps working
# (smaller copy-ups and writes still succeed, the big file still reads as
# the lower's). The upper is a 4 MiB tmpfs (root only).
# Usage: write-enospc.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/d" "$T/u" "$M"
if ! mount -t tmpfs -o size=4m uf-enospc "$T/u"; then
	uf_fail "mount a 4 MiB tmpfs for the upper"
	uf_finish
fi
head -c $((8 << 20)) /dev/urandom >"$T/l/d/big"
printf 'small' >"$T/l/d/small"
lower_sum=$(cd "$T/l" && sha256sum d/big d/small)

uf_mount "$BIN" "$T/l:$T/u" "$M" -o metacopy=off || uf_finish
uf_check_errno "first write to an 8 MiB lower file: ENOSPC" ENOSPC write "$M/d/big"
uf_check_out "no partial copy in the upper" "absent" \
	bash -c '[ -e "$1" ] && echo present || echo absent' _ "$T/u/d/big"
uf_check_out "nothing hidden left in the upper dir" "" \
	bash -c 'ls -A "$1" 2>/dev/null | grep -v "^small$" || true' _ "$T/u/d"
uf_check "the big file still reads as the lower's" cmp "$M/d/big" "$T/l/d/big"
uf_check_errno "a small copy-up still works" OK write "$M/d/small"
uf_check_errno "chmod of the big file: ENOSPC too (a full copy)" ENOSPC chmod "$M/d/big" 600
uf_check_out "new file filling the upper: the write fails with ENOSPC" "ENOSPC" \
	bash -c 'dd if=/dev/zero of="$1" bs=1M count=8 status=none 2>&1 | grep -q "No space" && echo ENOSPC || echo "no error"' _ "$M/new"
rm -f "$M/new"
uf_check_errno "after freeing space, writes work again" OK write "$M/d/small"
uf_umount "$M"
uf_check_out "lower branch unchanged" "$lower_sum" bash -c 'cd "$1" && sha256sum d/big d/small' _ "$T/l"
umount "$T/u"
uf_finish
