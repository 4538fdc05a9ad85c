#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# trusted.* xattrs are for CAP_SYS_ADMIN only: the kernel lists them only to
# such callers (getxattr of one is refused by the VFS anyway, but the list
# goes through the filesystem, here the daemon running as root). Root set
# trusted.* (and user.*) xattrs in the lower on a file, a dir and a symlink,
# and on upper-only objects; one file is copied up through the union.
# Alice's listxattr and getfattr -d -m- must show no trusted.* name, and
# for each object give exactly what the kernel overlayfs over the same
# branches gives her; root must still see them (as with the kernel).
# Usage: sec-xattr-visibility.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
uf_require_overlay
T=$UF_TMP/t
L=$T/lower U=$T/upper K=$T/k M=$SEC_MNT
mkdir -p "$L/d" "$U/ud" "$K"
printf 'canary' >"$L/canary"
printf 'f\n' >"$L/f"
printf 'c\n' >"$L/copied"
printf 'u\n' >"$U/uf"
ln -s f "$L/sym"
chmod 0666 "$L/copied"
for p in "$L/f" "$L/d" "$L/copied" "$U/uf" "$U/ud"; do
	setfattr -n trusted.hidden -v "$SEC_ROOT_MARK" "$p"
	setfattr -n user.shown -v shown "$p"
done
setfattr -h -n trusted.hidden -v "$SEC_ROOT_MARK" "$L/sym"
OBJS=(f d sym copied uf ud)
wr_save_lowers "$L"

# names WHO MNT: "OBJ: names" (listxattr, no deref) and getfattr -d -m- per object
names() {
	sec_run "listxattr as $1 on $2" "$1" "$SEC_TMO" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
for o in A[1:]:
    try:
        print(o + ":", " ".join(sorted(os.listxattr(A[0] + "/" + o, follow_symlinks=False))))
    except OSError as e:
        print(o + ":", ename(e))
    try:
        print(o + ": get trusted.hidden", show(os.getxattr(A[0] + "/" + o, "trusted.hidden", follow_symlinks=False)))
    except OSError as e:
        print(o + ": get trusted.hidden", ename(e))' "$2" "${OBJS[@]}"
	printf '%s\n' "$SEC_OUT"
	sec_run "getfattr as $1 on $2" "$1" "$SEC_TMO" sh -c 'cd "$1" && shift && getfattr -h -d -m - "$@" 2>&1' _ "$2" "${OBJS[@]}"
	printf '%s\n' "$SEC_OUT" | grep -v '^$'
}

# alice copies "copied" up through the union first (and on the kernel's copy)
mkdir -p "$T/kc/w"
cp -a "$L" "$U" "$T/kc/"
ovl_mount "$T/kc/lower" "$T/kc/upper" "$T/kc/w" "$K"
sec_run "copy up on the kernel overlayfs" alice "$SEC_TMO" sh -c 'echo more >>"$1"' _ "$K/copied"
kalice=$(names alice "$K")
kroot=$(names root "$K")
ovl_umount "$K"
uf_log "kernel overlayfs, alice: $(printf '%s\n' "$kalice" | tr '\n' '|')"

sec_mount "$L:$U" || uf_finish
sec_run "copy up through the union" alice "$SEC_TMO" sh -c 'echo more >>"$1"' _ "$M/copied"
falice=$(names alice "$M")
froot=$(names root "$M")
uf_check_eq "alice sees no trusted.* name listed" "" "$(printf '%s\n' "$falice" | grep trusted | grep -v "get trusted.hidden ENODATA")"
uf_check_eq "alice's listxattr/getfattr as with the kernel overlayfs" "$kalice" "$falice"
uf_check_eq "root's listxattr/getfattr as with the kernel overlayfs" "$kroot" "$froot"
sec_after "listxattr of trusted.* names"
sec_umount
wr_check_lowers "lower unchanged at the end"
uf_finish
