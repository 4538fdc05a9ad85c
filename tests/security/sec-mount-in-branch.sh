#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Mounts inside branches. The kernel overlayfs looks names up in each real
# dir without crossing mount points: a filesystem mounted on a dir inside a
# branch is not part of the union, which shows the dir underneath. A daemon
# that walks the branches with openat() crosses into whatever is mounted
# there, e.g. a user's tmpfs or FUSE mount, or the union itself.
#
#   before mounting: a tmpfs on a dir of the lower, one on a deeper dir of
#     the lower, and one on a dir of the upper. The union must list what is
#     underneath (as the kernel overlayfs over the same branches does), not
#     the tmpfs's files, and a file created through the union in the upper's
#     dir must land underneath, not in the tmpfs.
#   after mounting: the union's mount point is bind-mounted onto an empty
#     dir of the lower; looking that dir up, ls -R and find through the union
#     must not hang (10 s) nor recurse into the union, and the union still
#     answers. The bind mount is removed before the unmount.
# Usage: sec-mount-in-branch.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
uf_require_overlay
T=$UF_TMP/t
L=$T/lower U=$T/upper K=$T/k M=$SEC_MNT
mkdir -p "$L/mnted" "$L/deep/a/mnted" "$L/loop" "$U/umnted" "$K"
printf 'canary' >"$L/canary"
printf 'under\n' >"$L/mnted/under-file"
printf 'under\n' >"$L/deep/a/mnted/under-deep"
printf 'under\n' >"$U/umnted/under-upper"
wr_save_lowers "$L"
lowers_unmounted=$WR_LOWERS_BEFORE
for d in "$L/mnted" "$L/deep/a/mnted" "$U/umnted"; do
	mount -t tmpfs -o size=1m,mode=0777 uf-sec-submount "$d" || uf_skip "cannot mount a tmpfs"
	printf 'TMPFS\n' >"$d/TMPFS-FILE"
done
wr_save_lowers "$L" # with the tmpfs mounts, as the checks during the test see it

# The kernel overlayfs over the same branches (the upper as the top lower,
# so it writes nothing) is the oracle for the listings.
PROBES=(mnted deep/a/mnted umnted)
ovl_mount "$U:$L" "" "" "$K"
kview=$(for p in "${PROBES[@]}"; do echo "$p: $(ls -A "$K/$p" 2>&1 | tr '\n' ' ')"; done)
ovl_umount "$K"
uf_check_eq "the kernel overlayfs shows the dirs under the tmpfs mounts" \
	"mnted: under-file 
deep/a/mnted: under-deep 
umnted: under-upper " "$kview"

sec_mount "$L:$U" || uf_finish
sec_run "list the dirs through the union" alice "$SEC_TMO" sh -c \
	'for p in mnted deep/a/mnted umnted; do echo "$p: $(ls -A "$1/$p" 2>&1 | tr "\n" " ")"; done' _ "$M"
uf_check_eq "the union shows the dirs under the tmpfs mounts (as the kernel)" "$kview" "$SEC_OUT"
sec_run "cat a tmpfs file through the union" alice "$SEC_TMO" cat "$M/mnted/TMPFS-FILE"
uf_check_eq "a tmpfs file is not in the union" \
	"cat: $M/mnted/TMPFS-FILE: No such file or directory" "$SEC_OUT"
sec_run "create in the upper's dir" root "$SEC_TMO" sh -c 'echo new >"$1"' _ "$M/umnted/new"
uf_check_eq "the tmpfs on the upper's dir got nothing" "TMPFS-FILE" "$(ls -A "$U/umnted")"
sec_after "tmpfs mounts in the branches"

# ------------------------------------------------------- the union in itself
# What find shows of the union before it is reachable from inside itself
# (the host's own find would now descend into the bind mount).
union_entries=$(find "$M" | wc -l)
mount --bind "$M" "$L/loop" || uf_fail "bind-mount the union onto lower/loop"
sec_run "ls the bind-mounted dir" alice 10 ls -A "$M/loop"
sec_hung || uf_check_eq "lower/loop through the union is the empty dir underneath" "" "$SEC_OUT"
sec_hung || sec_run "stat loop/canary" alice 10 stat -c %n "$M/loop/canary"
sec_hung || uf_check_eq "no union inside the union" "stat: cannot statx '$M/loop/canary': No such file or directory" "$SEC_OUT"
sec_hung || sec_run "ls -R the union" alice 10 sh -c 'ls -R "$1" | wc -l' _ "$M"
sec_hung || sec_run "find the union" alice 10 sh -c 'find "$1" | wc -l' _ "$M"
sec_hung || uf_check_eq "find lists the union once (no recursion)" "$union_entries" "$SEC_OUT"
sec_alive "with the union bind-mounted into its lower"
umount "$L/loop" 2>/dev/null || umount -l "$L/loop" || uf_fail "remove the bind mount"
sec_after "the union bind-mounted into its lower"
sec_umount
for d in "$L/mnted" "$L/deep/a/mnted" "$U/umnted"; do
	umount "$d" || umount -l "$d"
done
uf_check_eq "the file created through the union is in the upper's dir underneath" "new under-upper" \
	"$(ls -A "$U/umnted" | tr '\n' ' ' | sed 's/ $//')"
WR_LOWERS_BEFORE=$lowers_unmounted
wr_check_lowers "lower branch unchanged at the end"
uf_finish
