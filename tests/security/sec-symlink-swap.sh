#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Symlink swap in the upper. Alice owns the upper branch, so while the union
# is mounted she may replace one of her upper files, after the union looked
# it up, by a symlink to a root-only file (0600, outside every branch). A
# daemon running as root that re-finds the file by its name and follows the
# symlink then acts on the root file with root's rights. Through the union
# she then tries: chmod 0666, chown to herself, truncate, utimes, touch,
# setxattr user.x, removexattr user.tag (the secret has one), getxattr,
# open O_RDONLY/O_WRONLY/O_RDWR with read and write, and cat; the same
# through an fd opened before the swap (fchmod, fchown, ftruncate, futimens,
# f*xattr, pread, pwrite); a dir swapped for a symlink to a 0700 root dir; a
# symlink planted at the name a copy-up is about to create; and all ops in a
# loop for a few seconds while another process swaps file and symlink back
# and forth. (Hard links to root files are not possible under
# protected_hardlinks, so only symlinks are tried.)
#
# Must hold: the root file's content, mode, owner, times and xattrs never
# change and its content is never read; the lower is unchanged; the daemon
# lives. Each op may fail with ENOENT or ESTALE (the daemon saw the name now
# holds another object), ELOOP (it refused the symlink), EACCES/EPERM (the
# kernel re-looked the name up, found the symlink and followed it with
# alice's own rights), EEXIST for the planted symlink (the copy-up refused
# to replace it), or succeed on alice's own object (ENODATA: her object has
# no user.tag); any other result (EIO, a hang, ...) fails. EIO is what the
# kernel returns when the daemon answers for a nodeid with another object's
# type, i.e. when the daemon looked at the wrong object. The kernel overlayfs is no oracle here: it
# holds each real inode, so a swap in the upper has no effect on it.
# Usage: sec-symlink-swap.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
T=$UF_TMP/t
L=$T/lower U=$T/upper M=$SEC_MNT
mkdir -p "$L" "$U"
OPS=(chmod chown truncate utime touch setxattr removexattr getxattr read write rdwr)
ACCEPT=" OK ENOENT ESTALE ELOOP EACCES EPERM ENODATA "
printf 'canary' >"$L/canary"
for op in "${OPS[@]}" cat plant; do
	printf 'LOWER-%s %s\n' "$op" "$SEC_ALICE_DATA" >"$L/l-$op"
done
chown "$SEC_ALICE" "$L"/l-* "$U"
wr_save_lowers "$L"
sec_mount "$L:$U" || uf_finish

as_alice() { sec_run "$1" alice "$SEC_TMO" "${@:2}"; }

# swap NAME TARGET: alice replaces upper NAME by a symlink, in one rename(2).
swap() {
	as_alice "swap $1 in the upper" ln -sfn "$2" "$U/.swap" &&
		as_alice "swap $1 in the upper" mv -T "$U/.swap" "$U/$1"
	[ "$SEC_RC" -eq 0 ] || uf_fail "alice swaps upper/$1 for a symlink" "$SEC_OUT"
}

# check_result DESC OUTPUT [MORE]: each "OP RESULT ..." line has an accepted
# RESULT (ACCEPT, plus the errno names in MORE).
check_result() {
	local bad ok="$ACCEPT${3:-} "
	bad=$(printf '%s\n' "$2" | awk -v ok="$ok" 'NF >= 2 && index(ok, " " $2 " ") == 0')
	if [ -z "$bad" ] && [ -n "$2" ]; then
		uf_pass "$1: result accepted ($(printf '%s' "$2" | tr '\n' ' ' | head -c 120))"
	else
		uf_fail "$1: result is one of$ok" "actual: $2"
	fi
}

# ------------------------------------------------------- one swap, one op
# u-OP: alice's file made through the union; l-OP: a lower file of alice's
# that the union copied up. Each is looked up (and read) through the union,
# swapped in the upper, then OP runs through the union.
for kind in u l; do
	for op in "${OPS[@]}" cat; do
		n=$kind-$op
		if [ "$kind" = u ]; then
			as_alice "create $n" sh -c 'printf "%s\n" "$2" >"$1"' _ "$M/$n" "$SEC_ALICE_DATA"
		else
			as_alice "copy up $n" chmod 0644 "$M/$n"
		fi
		as_alice "look $n up" cat "$M/$n"
		[ -f "$U/$n" ] || uf_fail "$n is in the upper before the swap" "$(ls -l "$U")"
		swap "$n" "$SEC_ROOT_FILE"
		if [ "$op" = cat ]; then
			as_alice "cat $n" cat "$M/$n"
			r="cat $( ((SEC_RC == 0)) && echo OK || echo "$SEC_OUT" | sed 's/.*: //; s/No such file or directory/ENOENT/; s/Permission denied/EACCES/; s/Stale file handle/ESTALE/; s/Too many levels of symbolic links/ELOOP/')"
		else
			as_alice "$op $n" "$UF_PYTHON" "$UF_TMP/secprobe.py" ops "$M/$n" "$op"
			r=$SEC_OUT
		fi
		sec_hung && break 2
		check_result "$n: swap, then $op" "$r"
		sec_after "$n: swap, then $op"
	done
done

# ------------------------------------------------------- through an open fd
if ! sec_hung; then
	as_alice "create u-fd" sh -c 'printf "%s\n" "$2" >"$1"' _ "$M/u-fd" "$SEC_ALICE_DATA"
	as_alice "fd ops on u-fd" "$UF_PYTHON" "$UF_TMP/secprobe.py" fdops "$M/u-fd" \
		sh -c 'ln -sfn "$1" "$2/.swap" && mv -T "$2/.swap" "$2/u-fd"' _ "$SEC_ROOT_FILE" "$U"
	check_result "open fd, swap, then f*() calls" "$SEC_OUT"
	sec_after "open fd, swap, then f*() calls"
fi

# ------------------------------------------------------- a directory
if ! sec_hung; then
	as_alice "mkdir d" mkdir "$M/d"
	as_alice "create d/x" sh -c 'printf "%s\n" "$2" >"$1"' _ "$M/d/x" "$SEC_ALICE_DATA"
	as_alice "look d up" ls "$M/d"
	as_alice "swap d" mv -T "$U/d" "$U/d.old"
	swap d "$SEC_ROOT_DIR"
	as_alice "ls d" ls "$M/d"
	as_alice "cat d/inner" cat "$M/d/inner"
	as_alice "create d/new" sh -c 'printf "new\n" >"$1"' _ "$M/d/new"
	as_alice "chmod d" chmod 0777 "$M/d"
	as_alice "touch d" touch "$M/d"
	uf_check_out "swapped dir: nothing was created in the root dir" "inner" ls "$SEC_ROOT_DIR"
	sec_after "dir swapped for a symlink to a 0700 root dir"
fi

# ------------------------------------------------------- planted at copy-up
# l-plant is only in the lower when the union looks it up; alice then puts a
# symlink at its name in the upper, and a chmod and a write through the union
# copy it up.
if ! sec_hung; then
	as_alice "look l-plant up" cat "$M/l-plant"
	as_alice "plant" ln -s "$SEC_ROOT_FILE" "$U/l-plant"
	as_alice "copy-up onto the planted symlink" "$UF_PYTHON" "$UF_TMP/secprobe.py" ops "$M/l-plant" chmod write rdwr truncate
	check_result "symlink planted at a copy-up's target" "$SEC_OUT" EEXIST
	sec_after "symlink planted at a copy-up's target"
fi

# ------------------------------------------------------- the race, in a loop
SECS=${SEC_SWAP_SECS:-6}
if ! sec_hung; then
	as_alice "create s" sh -c 'printf "%s\n" "$2" >"$1"' _ "$M/s" "$SEC_ALICE_DATA"
	sec_bg alice "$UF_TMP/swapper.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
d, target, end, data = A[0], A[1], time.monotonic() + float(A[2]), A[3]
n = 0
while time.monotonic() < end:
    with open(d + "/.sw.file", "w") as f:
        f.write(data + "\n")
    os.rename(d + "/.sw.file", d + "/s")
    try:
        os.unlink(d + "/.sw.lnk")
    except FileNotFoundError:
        pass
    os.symlink(target, d + "/.sw.lnk")
    os.rename(d + "/.sw.lnk", d + "/s")
    n += 1
print("swaps", n)' "$U" "$SEC_ROOT_FILE" "$SECS" "$SEC_ALICE_DATA"
	swapper=$SEC_BG_PID
	sec_bg alice "$UF_TMP/hammer.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" hammer "$SECS" "$M/s" \
		stat "${OPS[@]}"
	hammer=$SEC_BG_PID
	sec_wait "$hammer" $((SECS + 30)) "ops on s while it is swapped"
	sec_wait "$swapper" $((SECS + 30)) "the swapper"
	uf_log "swapper: $(cat "$UF_TMP/swapper.log")"
	uf_log "hammer: $(grep -v '^data' "$UF_TMP/hammer.log" | tr '\n' ',')"
	check_result "ops on s while it is swapped ${SECS}s" "$(grep -v '^data' "$UF_TMP/hammer.log")"
	sec_after "ops on s while it is swapped ${SECS}s"
fi

sec_umount
wr_check_lowers "lower branch unchanged at the end"
uf_finish
