#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Read-side differential test: the 3-branch tree of trees.sh (whiteouts,
# opaque dirs, shadowing, symlinks, hard links, fifo, device, xattrs) built
# twice; one copy mounted with the kernel overlayfs (lowerdir=b2:b1, top
# first), the other with unionfuse (b1:b2:u, bottom first).  tree_snapshot
# of both views, the inode checks and the result of ~75 read-side calls,
# errors included, must be identical.
# READVIEW_FORM=aufs (see readview-aufs.sh) writes unionfuse's copy with
# .wh. whiteouts and .wh..wh..opq markers instead; the kernel copy always
# uses the kernel form, so the two views must still match.
# Usage: readview-layers.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

FORM=${READVIEW_FORM:-kernel}
uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd getfattr setfattr
uf_tmp

K=$UF_TMP/k
F=$UF_TMP/f
mkdir -p "$UF_TMP/mk" "$UF_TMP/mf"
uf_build_layers "$K" kernel || { uf_fail "building the kernel tree"; uf_finish; }
uf_build_layers "$F" "$FORM" || { uf_fail "building the unionfuse tree ($FORM form)"; uf_finish; }
lowers_before=$(tree_snapshot "$F/b1"; tree_snapshot "$F/b2")

ovl_mount "$K/b2:$K/b1" "$K/u" "$K/w" "$UF_TMP/mk"
uf_mount "$BIN" "$F/b1:$F/b2:$F/u" "$UF_TMP/mf" || uf_finish

# the oracle itself must show what the tree was designed to show
uf_check_eq "self-check: the kernel overlay shows the designed view" "$UF_LAYERS_BRIEF" \
	"$(tree_brief "$UF_TMP/mk")" "tree_brief $UF_TMP/mk"
uf_diff_views "layers ($FORM form)" "$UF_TMP/mk" "$UF_TMP/mf"
uf_check_eq "layers ($FORM form): ino_check (hard-link groups, d_ino == st_ino)" \
	"$(ino_check "$UF_TMP/mk" 2>&1 | grep '^LINKS: ')" "$(ino_check "$UF_TMP/mf" 2>&1)" "ino_check $UF_TMP/mf"
for d in . merged merged/sub merged/sub/deep opq_a opq_c opq_mid opq_u re_dir filedir odd; do
	uf_check_eq "layers ($FORM form): ls -f $d" "$(ls -f "$UF_TMP/mk/$d" | sort)" \
		"$(ls -f "$UF_TMP/mf/$d" | sort)" "ls -f $UF_TMP/mf/$d | sort"
done
uf_diff_probes "layers ($FORM form)" "$UF_TMP/mk" "$UF_TMP/mf" < <(uf_layers_probes)
uf_check_eq "layers ($FORM form): getfattr -d -m - -R" \
	"$(cd "$UF_TMP/mk" && getfattr -R -h -d -m - . 2>&1 | sort)" \
	"$(cd "$UF_TMP/mf" && getfattr -R -h -d -m - . 2>&1 | sort)" "cd $UF_TMP/mf && getfattr -R -h -d -m - ."

uf_umount "$UF_TMP/mf"
uf_check_eq "reading through unionfuse left its lower branches unchanged" "$lowers_before" \
	"$(tree_snapshot "$F/b1"; tree_snapshot "$F/b2")"
uf_finish
