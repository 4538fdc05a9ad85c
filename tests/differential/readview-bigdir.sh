#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Differential: a directory of 10,000 names over three branches, some
# shadowed, some whited out.  The kernel overlayfs reads the kernel form;
# unionfuse reads the same tree with the u-branch whiteouts in .wh. form.
# Names (ls -f), the full snapshot and the inode checks must match.
# Usage: readview-bigdir.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_tmp

K=$UF_TMP/k
F=$UF_TMP/f
mkdir -p "$UF_TMP/mk" "$UF_TMP/mf"
uf_build_bigdir "$K" 10000 kernel || { uf_fail "building the kernel tree"; uf_finish; }
uf_build_bigdir "$F" 10000 mixed || { uf_fail "building the unionfuse tree"; uf_finish; }

ovl_mount "$K/b2:$K/b1" "$K/u" "$K/w" "$UF_TMP/mk"
uf_mount "$BIN" "$F/b1:$F/b2:$F/u" "$UF_TMP/mf" || uf_finish

uf_check_eq "self-check: the kernel view has the designed names" "$(cat "$K/expected-big")" \
	"$(ls -f "$UF_TMP/mk/big" | sort)" "ls -f $UF_TMP/mk/big | sort"
uf_check_eq "ls -f big: same names" "$(ls -f "$UF_TMP/mk/big" | sort)" "$(ls -f "$UF_TMP/mf/big" | sort)" \
	"ls -f $UF_TMP/mf/big | sort"
uf_check_eq "ls -f big | wc -l" "$(ls -f "$UF_TMP/mk/big" | wc -l)" "$(ls -f "$UF_TMP/mf/big" | wc -l)" \
	"ls -f $UF_TMP/mf/big | wc -l"
uf_diff_views "bigdir" "$UF_TMP/mk" "$UF_TMP/mf"
uf_check_eq "ino_check big" "$(ino_check "$UF_TMP/mk/big" 2>&1 | grep '^LINKS: ')" \
	"$(ino_check "$UF_TMP/mf/big" 2>&1)" "ino_check $UF_TMP/mf/big"
uf_diff_probes "bigdir" "$UF_TMP/mk" "$UF_TMP/mf" <<'PROBES'
lstat big/f00021
lstat big/f00022
lstat big/f00033
lstat big/.wh.f00022
lstat big/f09996
read big/f00000
read big/f00010
read big/f09998
PROBES
uf_finish
