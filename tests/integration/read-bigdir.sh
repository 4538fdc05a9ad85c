#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A directory of 10,000 names spread over 3 branches, some present in two
# branches, some whited out (char 0/0 in b2, .wh. in u): exact name set,
# count, no duplicates, readdir in many small getdents calls, lseek to a
# d_off (seekdir), concurrent listings, d_ino == st_ino, and which branch
# each sample name comes from.
# Usage: read-bigdir.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$M"
uf_build_bigdir "$T" 10000 "${UF_TREE_FORM:-mixed}" || { uf_fail "building the 10k tree"; uf_finish; }
nexp=$(wc -l <"$T/expected-big")
uf_log "expecting $nexp entries incl. . and .."
[ "$nexp" -gt 8000 ] || uf_fail "self-check: expected-big has only $nexp names"

uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" || uf_finish

uf_check_out "ls -f big | wc -l" "$nexp" bash -c 'ls -f "$1" | wc -l' _ "$M/big"
uf_check_eq "ls -f big: exact name set" "$(cat "$T/expected-big")" "$(ls -f "$M/big" | sort)" \
	"ls -f $M/big | sort"
uf_check_out "ls -f big: no name twice" "" bash -c 'ls -f "$1" | sort | uniq -d' _ "$M/big"
uf_check_eq "getdents64 with a 1 KiB buffer (many readdir calls): same set" \
	"$(cat "$T/expected-big")" "$(uf_fsutil getdents "$M/big" 1024 | cut -d' ' -f1 | sort)" \
	"fsutil.py getdents $M/big 1024"
uf_check_eq "second listing of the same dir is identical" \
	"$(ls -f "$M/big" | sort)" "$(ls -f "$M/big" | sort)"
uf_check_out "ino_check big: d_ino == st_ino, unique st_ino" "" ino_check "$M/big"
uf_check_out "seekdir/telldir: lseek to an entry's d_off resumes right after it" \
	"OK $nexp entries, $(( (nexp - 2 + 96) / 97 + 1 )) seeks" uf_fsutil seekcheck "$M/big" 1024 97
# four listings at once on the multi-threaded daemon
for i in 1 2 3 4; do ls -f "$M/big" | sort >"$UF_TMP/par.$i" & done
wait
for i in 1 2 3 4; do
	uf_check_eq "concurrent listing $i of 4: exact name set" "$(cat "$T/expected-big")" "$(cat "$UF_TMP/par.$i")"
done

uf_check_out "f00000: b1 copy shadowed by b2" "f00000 in 1" cat "$M/big/f00000"
uf_check_out "f00010: b2 copy shadowed by u" "f00010 in 2" cat "$M/big/f00010"
uf_check_out "f00007: only in b2" "f00007 in 1" cat "$M/big/f00007"
uf_check_out "f00003: only in b1" "f00003 in 0" cat "$M/big/f00003"
uf_check_out "f09998: only in u" "f09998 in 2" cat "$M/big/f09998"
for n in f00021 f00022 f00033 f09996; do
	uf_check_errno "$n: whited out" ENOENT lstat "$M/big/$n"
done
uf_check_errno "f09996 whiteout check is not vacuous: it exists in b1" "OK f" lstat "$T/b1/big/f09996"
uf_check_errno ".wh.f00022 (u) is not shown" ENOENT lstat "$M/big/.wh.f00022"
uf_check_out "no .wh. names in the listing" "0" bash -c 'ls -f "$1" | grep -c "^\.wh\." || true' _ "$M/big"
uf_finish
