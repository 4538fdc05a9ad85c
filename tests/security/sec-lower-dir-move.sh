#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A lower dir moves after the union copied it up. The lower has d1/{f,g}
# and d2/h; writing d1/f through the union copies d1 up (upper d1/f). Then,
# directly in the lower, mv d1 d3. The union must now show what a fresh
# kernel overlayfs over the same branches shows: d3 is the lower's d3 (f and
# g with the lower's content) and not the upper d1 mixed in; d1 is the upper
# d1 (f as written); a file created in d3 through the union lands in
# upper/d3, not in upper/d1. A daemon that files dirs by the identity of the
# lower dir they came from finds its d1 inode for d3 and mixes them up.
# Usage: sec-lower-dir-move.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
uf_require_overlay
T=$UF_TMP/t
L=$T/lower U=$T/upper K=$T/k M=$SEC_MNT
mkdir -p "$L/d1" "$L/d2" "$U" "$K"
printf 'canary' >"$L/canary"
printf 'LOWER-F\n' >"$L/d1/f"
printf 'LOWER-G\n' >"$L/d1/g"
printf 'LOWER-H\n' >"$L/d2/h"
sec_mount "$L:$U" || uf_finish

sec_run "write d1/f through the union" root "$SEC_TMO" sh -c 'echo UNION-F >"$1"' _ "$M/d1/f"
uf_check_eq "d1/f is copied up" "UNION-F" "$(cat "$U/d1/f" 2>&1)"
sec_run "look d1 and d1/g up" root "$SEC_TMO" sh -c 'ls "$1/d1" && cat "$1/d1/g"' _ "$M"
mv "$L/d1" "$L/d3"
sleep 0.5 # the daemon's inotify thread

# the oracle: a fresh kernel overlayfs over copies of the branches as they are now
mkdir -p "$T/kc/w"
cp -a "$L" "$U" "$T/kc/"
ovl_mount "$T/kc/lower" "$T/kc/upper" "$T/kc/w" "$K" redirect_dir=on
wr_save_lowers "$L"

# view MNT: d1, d3 and their files
view() {
	sec_run "view of $1" root "$SEC_TMO" "$UF_PYTHON" "$UF_LIB/fsutil.py" brief "$1"
	printf '%s\n' "$SEC_OUT"
}
uf_check_eq "after mv d1 d3 in the lower: the union shows what the kernel overlayfs shows" "$(view "$K")" "$(view "$M")"
# check DESC EXPECTED CMD...: CMD through the union (under a timeout)
check() {
	sec_run "$1" root "$SEC_TMO" "${@:3}"
	uf_check_eq "$1" "$2" "$SEC_OUT" "${*:3}"
}
check "d3/f is the lower's f" "LOWER-F" cat "$M/d3/f"
check "d1/f is the written f" "UNION-F" cat "$M/d1/f"
check "d1 lists only the upper's f" "f" ls "$M/d1"
check "d3 lists the lower's f and g" "f g" sh -c 'echo $(ls "$1")' _ "$M/d3"

sec_run "create d3/new through the union" root "$SEC_TMO" sh -c 'echo NEW >"$1"' _ "$M/d3/new"
echo NEW >"$K/d3/new"
uf_check_eq "d3/new is in upper/d3 (as with the kernel)" "$(wr_kind "$T/kc/upper/d3/new")" "$(wr_kind "$U/d3/new")"
uf_check_eq "nothing new in upper/d1 (as with the kernel)" "$(ls "$T/kc/upper/d1")" "$(ls "$U/d1")"
uf_check_eq "after the create: the union shows what the kernel overlayfs shows" "$(view "$K")" "$(view "$M")"
ovl_umount "$K"
sec_after "lower dir moved after its copy-up"
sec_umount
wr_check_lowers "lower unchanged since the move"
uf_finish
