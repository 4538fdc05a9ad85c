#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Differential, read-only unions: the 3-branch tree stacked as three lower
# layers and no upper ("mount -t overlay -o lowerdir=u:b2:b1" against
# "unionfuse -o lowerdir=u:b2:b1"), and unionfuse's "-o ro b1:b2:u" against
# the same kernel mount.  Views, read probes and the errno of every kind of
# write attempt must match.
# Usage: readview-ro.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd getfattr setfattr
uf_tmp

K=$UF_TMP/k
F=$UF_TMP/f
KM=$UF_TMP/mk
FM=$UF_TMP/mf
mkdir -p "$KM" "$FM"
uf_build_layers "$K" kernel || { uf_fail "building the kernel tree"; uf_finish; }
uf_build_layers "$F" kernel || { uf_fail "building the unionfuse tree"; uf_finish; }
before=$(tree_snapshot "$F")

write_probes() {
	cat <<'PROBES'
open a.txt O_WRONLY
open a.txt O_RDWR
open a.txt O_WRONLY|O_TRUNC
open newfile O_WRONLY|O_CREAT
open merged/newfile O_WRONLY|O_CREAT|O_EXCL
open a.txt O_WRONLY|O_CREAT|O_EXCL
mkdir newdir
mkdir merged
rmdir opq_a
rmdir merged
rmdir nonexistent
unlink a.txt
unlink nonexistent
rename a.txt b.txt
symlink newlink target
link newhard a.txt
mkfifo newfifo
mknod newnod
truncate a.txt 0
chmod a.txt 600
chown a.txt 1 1
utime a.txt
setxattr a.txt user.x y
removexattr xa.txt user.color
PROBES
}

ovl_mount "$K/u:$K/b2:$K/b1" "" "" "$KM"
uf_check_eq "self-check: kernel lowerdir=u:b2:b1 shows the designed view" "$UF_LAYERS_BRIEF" \
	"$(tree_brief "$KM")" "tree_brief $KM"

if uf_mount_args "$BIN" "$FM" -o "lowerdir=$F/u:$F/b2:$F/b1" "$FM"; then
	uf_diff_views "lowerdir=u:b2:b1" "$KM" "$FM"
	uf_diff_probes "lowerdir=u:b2:b1 reads" "$KM" "$FM" < <(uf_layers_probes)
	uf_diff_probes "lowerdir=u:b2:b1 writes" "$KM" "$FM" < <(write_probes)
	uf_umount "$FM"
fi
if uf_mount "$BIN" "$F/b1:$F/b2:$F/u" "$FM" -o ro; then
	uf_diff_views "-o ro b1:b2:u" "$KM" "$FM"
	uf_diff_probes "-o ro b1:b2:u writes" "$KM" "$FM" < <(write_probes)
	uf_umount "$FM"
fi
uf_check_eq "no branch of unionfuse's tree changed" "$before" "$(tree_snapshot "$F")"
uf_finish
