#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mmap(2) reads of union files: whole file from a lower branch, a window at
# a page offset, a file shadowed by the upper, a file that ends mid-page,
# and a mapping that spans the tail of a 1 GiB sparse file.
# Usage: read-mmap.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1" "$T/b2" "$T/u" "$M"
# deterministic pseudo-random content: 3 pages + 100 bytes
"$UF_PYTHON" -c '
import hashlib, sys
out = b""
i = 0
while len(out) < int(sys.argv[2]):
    out += hashlib.sha256(b"%d" % i).digest()
    i += 1
open(sys.argv[1], "wb").write(out[:int(sys.argv[2])])' "$T/b1/blob" $((3 * 4096 + 100))
printf 'lower version of shadow' >"$T/b1/shadow"
printf 'upper version of shadow, longer than the lower one' >"$T/u/shadow"
printf 'b2 file' >"$T/b2/mid"
truncate -s 1G "$T/b2/sparse"
printf 'tail-data' | dd of="$T/b2/sparse" bs=1 seek=$(((1 << 30) - 9)) conv=notrunc status=none

sha() { sha256sum | cut -d' ' -f1; }

uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" || uf_finish

uf_check_out "mmap whole blob (lower) = branch bytes" "$(sha <"$T/b1/blob")" uf_fsutil mmapcat "$M/blob"
uf_check_out "mmap blob at offset 4096, 5000 bytes" \
	"$(dd if="$T/b1/blob" bs=1 skip=4096 count=5000 status=none | sha)" \
	uf_fsutil mmapcat "$M/blob" 4096 5000
uf_check_out "mmap blob's last partial page (offset 12288, 100 bytes)" \
	"$(tail -c 100 "$T/b1/blob" | sha)" uf_fsutil mmapcat "$M/blob" 12288 100
uf_check_out "mmap shadow gives the upper's content" "$(printf 'upper version of shadow, longer than the lower one' | sha)" \
	uf_fsutil mmapcat "$M/shadow"
uf_check_out "mmap small middle-branch file" "$(printf 'b2 file' | sha)" uf_fsutil mmapcat "$M/mid"
uf_check_out "mmap the last 8 KiB of a 1 GiB sparse file" \
	"$( (head -c $((8192 - 9)) /dev/zero; printf 'tail-data') | sha)" \
	uf_fsutil mmapcat "$M/sparse" $(((1 << 30) - 8192)) 8192
uf_check_out "read(2) and mmap agree on blob" "$(sha <"$M/blob")" uf_fsutil mmapcat "$M/blob"
uf_finish
