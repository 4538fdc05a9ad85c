#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# chown(f, -1, -1) and lchown(f, -1, -1): FUSE sends them as a setattr of
# nothing, and they must still do what they do on the kernel overlayfs
# (found by pjdfstest chown/00.t against both): copy the object up, change
# its ctime and drop security.capability. Lower and upper files, dirs and
# symlinks, by root and by the owner, on unionfuse and on the kernel
# overlayfs over copies of the same branches. Lowers unchanged.
# Usage: write-chown-noop.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_overlay
uf_require_cmd setfattr
uf_tmp

CAP=0x0100000200200000000000000000000000000000 # cap_net_raw+ep
L0=$UF_TMP/lower0 U0=$UF_TMP/upper0
mkdir -p "$L0/d" "$U0/ud"
printf 'lower\n' >"$L0/f"
printf 'lower\n' >"$L0/cap"
printf 'lower\n' >"$L0/own"
chown 65534:65534 "$L0/own"
ln -s f "$L0/sym"
setfattr -n security.capability -v "$CAP" "$L0/cap"
printf 'upper\n' >"$U0/uf"
printf 'upper\n' >"$U0/ucap"
setfattr -n security.capability -v "$CAP" "$U0/ucap"
for s in F K; do
	mkdir -p "$UF_TMP/$s/w" "$UF_TMP/$s/m"
	cp -a "$L0" "$UF_TMP/$s/l"
	cp -a "$U0" "$UF_TMP/$s/u"
done
wr_save_lowers "$UF_TMP/F/l" "$UF_TMP/K/l"

uf_mount "$BIN" "$UF_TMP/F/l:$UF_TMP/F/u" "$UF_TMP/F/m" -o allow_other || uf_finish
ovl_mount "$UF_TMP/K/l" "$UF_TMP/K/u" "$UF_TMP/K/w" "$UF_TMP/K/m"

# NOOP MNT UPPER NAME...: per name, chown(-1, -1) (lchown for the symlink;
# as its owner for "own"), then "NAME ctime+|ctime= cap|nocap up|-".
NOOP='
import time
mnt, upper = A[0], A[1]
for n in A[2:]:
    p = os.path.join(mnt, n)
    before = os.lstat(p).st_ctime_ns
    time.sleep(0.02)
    if n == "own":
        pid = os.fork()
        if pid == 0:
            os.setgid(65534); os.setuid(65534)
            os.chown(p, -1, -1)
            os._exit(0)
        os.waitpid(pid, 0)
    else:
        os.chown(p, -1, -1, follow_symlinks=False)
    after = os.lstat(p).st_ctime_ns
    try:
        os.getxattr(p, "security.capability", follow_symlinks=False)
        cap = "cap"
    except OSError:
        cap = "nocap"
    up = "up" if os.path.lexists(os.path.join(upper, n)) else "-"
    print(n, "ctime+" if after > before else "ctime=", cap, up)'
NAMES=(f d sym cap own uf ud ucap)
K=$(wr_py "$NOOP" "$UF_TMP/K/m" "$UF_TMP/K/u" "${NAMES[@]}")
uf_check_eq "kernel overlayfs: chown(-1, -1) copies up, changes ctime, drops capabilities" \
	"f ctime+ nocap up
d ctime+ nocap up
sym ctime+ nocap up
cap ctime+ nocap up
own ctime+ nocap up
uf ctime+ nocap up
ud ctime+ nocap up
ucap ctime+ nocap up" "$K" "chown(-1, -1) on the kernel overlayfs"
wr_check_py "unionfuse: chown(-1, -1) as on the kernel overlayfs" "$K" "$NOOP" \
	"$UF_TMP/F/m" "$UF_TMP/F/u" "${NAMES[@]}"
uf_check_out "the copy keeps the data" "lower" cat "$UF_TMP/F/m/own"
wr_check_lowers "the lowers are unchanged"

uf_umount "$UF_TMP/F/m"
ovl_umount "$UF_TMP/K/m"
uf_finish
