#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The sandbox farm: `unionfuse BASE:UPPERS/%n MNT` shows at MNT/NAME the
# union of BASE and UPPERS/NAME. Checked: the farm root lists the valid
# names whose upper is a directory (no dot names, no symlink, no file, no
# '%'); a sandbox comes up on lookup; copy-up and whiteouts land in its own
# upper only; st_ino differs between sandboxes (same st_dev) and stays the
# same after the sandbox was dropped; an idle sandbox is dropped
# (-o farm_idle=1: the daemon's fds go back) and brought up again with the
# same data; a sandbox in use unseen (a process's cwd, a bind mount, a mount
# inside the bind mount) is not disturbed: getcwd() still works and the
# mount stays; a bind mount of a sandbox works; the farm root refuses
# changes; renames across sandboxes are EXDEV; a sandbox whose upper another
# mount holds is EBUSY; -o farm_create makes a missing upper (0755 root);
# the -o upperdir=DIR/%n,workdir=WORK/%n form (a workdir per sandbox, made
# 0700); bad templates are refused; the lowers stay unchanged.
# Usage: mount-farm.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

B=$UF_TMP/base
U=$UF_TMP/uppers
M=$UF_TMP/mnt
J=$UF_TMP/jail
mkdir -p "$B/etc" "$B/d" "$U/alice" "$U/bob" "$U/.hidden" "$U/%n" "$M" "$J"
printf 'base\n' >"$B/f"
printf 'shared\n' >"$B/g"
printf 'x\n' >"$B/d/x"
printf 'motd\n' >"$B/etc/motd"
: >"$U/plainfile"
ln -s /etc "$U/evil"
wr_save_lowers "$B"

uf_mount_args "$BIN" "$M" -o farm_idle=1 "$B:$U/%n" "$M" || uf_finish
PID=$(uf_daemon_pid "$M")

# --- the farm root
uf_check_eq "the root lists the valid sandbox names" ". .. alice bob" "$(echo $(ls -a "$M"))"
uf_check_out "a sandbox shows the base" "base" cat "$M/alice/f"
uf_check_out "and its nested dirs" "motd" cat "$M/bob/etc/motd"
for n in .hidden %n plainfile evil nosuch; do
	uf_check_errno "invalid or missing name '$n': ENOENT" ENOENT lstat "$M/$n"
done
uf_check_errno "mkdir in the farm root: EPERM" EPERM mkdir "$M/carol"
uf_check_errno "rmdir of a sandbox: EPERM" EPERM rmdir "$M/alice"
uf_check_out "a sandbox's owner and mode are its upper's" "755 0:0" stat -c '%a %u:%g' "$M/alice"

# --- copy-up and whiteouts per sandbox
printf 'alice\n' >"$M/alice/f"
uf_check_out "alice's write: alice sees it" "alice" cat "$M/alice/f"
uf_check_out "bob still sees the base" "base" cat "$M/bob/f"
wr_check_kind "the copy is in alice's upper" "file:alice" "$U/alice/f"
wr_check_kind "nothing in bob's upper" "absent" "$U/bob/f"
rm "$M/bob/d/x"
wr_check_whiteout "bob's unlink: a whiteout in bob's upper" "$U/bob/d/x"
uf_check_out "alice still has d/x" "x" cat "$M/alice/d/x"
wr_check_kind "no whiteout in alice's upper" "absent" "$U/alice/d/x"
uf_check_errno "rename across sandboxes: EXDEV" EXDEV rename "$M/alice/g" "$M/bob/g2"
uf_check_errno "link across sandboxes: EXDEV" EXDEV link "$M/bob/g3" "$M/alice/g"

# --- st_ino
ia=$(stat -c %i "$M/alice/g")
ib=$(stat -c %i "$M/bob/g")
if [ "$ia" != "$ib" ]; then uf_pass "one lower file has a different st_ino per sandbox ($ia, $ib)"; else uf_fail "one lower file has a different st_ino per sandbox" "both $ia"; fi
uf_check_eq "st_dev is shared" "$(stat -c %d "$M")" "$(stat -c %d "$M/alice/g")"
uf_check_eq "readdir's d_ino is the sandbox root's st_ino" "$(stat -c %i "$M/alice")" \
	"$(ls -id "$M"/* | awk '$2 ~ /alice$/ {print $1}')"
ig_before=$(stat -c %i "$M/alice/g")

# --- idle drop, bring-up again
up=$(ls "/proc/$PID/fd" | wc -l)
sleep 3.5
down=$(ls "/proc/$PID/fd" | wc -l)
if [ "$down" -lt "$up" ]; then uf_pass "idle sandboxes dropped: daemon fds $up -> $down"; else uf_fail "idle sandboxes dropped" "daemon fds $up -> $down"; fi
uf_check_out "brought up again: alice's copy" "alice" cat "$M/alice/f"
uf_check_out "bob's whiteout still hides d/x" "" ls "$M/bob/d"
# A copy's st_ino is its origin's while the sandbox is up (as for a mount's
# life); the number of a lower object is the same after a drop.
uf_check_eq "a lower file's st_ino is the same after the drop" "$ig_before" "$(stat -c %i "$M/alice/g")"

# --- in use unseen: cwd, bind mount, a mount inside. In a mount namespace
# of our own: one unshared meanwhile by another process on the machine
# would keep a copy of the bind mount, and with it the sandbox, for good.
unshare -m --propagation private bash -c '
	M=$1 J=$2 T=$3
	mount --bind "$M/alice" "$J" || exit 1
	cat "$J/f"
	printf "jail\n" >"$J/new"
	mount -t tmpfs -o size=1m uf-farm-test "$J/etc"
	(cd "$M/bob/etc" && sleep 3.5 && /bin/pwd && cat motd) >"$T/cwd.out" 2>&1 &
	sleep 3.5
	mountpoint -q "$J/etc" && echo "etc still mounted"
	mkdir -p "$J/d/sub" && mount -t tmpfs -o size=1m uf-farm-test2 "$J/d/sub" &&
		mountpoint -q "$J/d/sub" && echo "sub mounted"
	wait
' _ "$M" "$J" "$UF_TMP" >"$UF_TMP/jail.out" 2>&1
uf_check_eq "a bind mount of a sandbox reads; a mount inside it stays through farm_idle; more can be mounted there" \
	"alice
etc still mounted
sub mounted" "$(cat "$UF_TMP/jail.out")"
wr_check_kind "a write through the bind mount lands in alice's upper" "file:jail" "$U/alice/new"
uf_check_out "a cwd inside through farm_idle: getcwd() and reads work" \
	"$M/bob/etc
motd" cat "$UF_TMP/cwd.out"
for _ in $(seq 80); do
	down2=$(ls "/proc/$PID/fd" | wc -l)
	[ "$down2" -le "$down" ] && break
	sleep 0.1
done
uf_check_eq "all released: dropped again" "$down" "$down2" "ls -l /proc/$PID/fd: $(ls -l "/proc/$PID/fd" | awk '{print $NF}' | tr '\n' ' ')"

# --- the upper's lock: held by a plain mount, the sandbox is EBUSY
M2=$UF_TMP/mnt2
mkdir -p "$M2"
if uf_mount "$BIN" "$B:$U/bob" "$M2"; then
	uf_check_errno "a sandbox whose upper is mounted elsewhere: EBUSY" EBUSY lstat "$M/bob"
	uf_umount "$M2"
fi
# The plain daemon lets go of the lock a moment after its unmount.
for _ in $(seq 50); do cat "$M/bob/etc/motd" >/dev/null 2>&1 && break; sleep 0.1; done
uf_check_out "free again: it comes up" "motd" cat "$M/bob/etc/motd"
uf_umount "$M"

# --- farm_create, bad templates
uf_mount_args "$BIN" "$M" -o farm_create "$B:$U/%n" "$M" || uf_finish
uf_check_out "farm_create: a new name comes up" "base" cat "$M/carol/f"
uf_check_out "its upper is made 0755 root" "directory 755 0:0" stat -c '%F %a %u:%g' "$U/carol"
uf_check_errno "farm_create: still no dot names" ENOENT lstat "$M/.x"
wr_check_kind "and none made" "absent" "$U/.x"
uf_umount "$M"
# --- the overlayfs form: a workdir per sandbox
mkdir -p "$UF_TMP/work"
uf_mount_args "$BIN" "$M" -o "lowerdir=$B,upperdir=$U/%n,workdir=$UF_TMP/work/%n" "$M" || uf_finish
printf 'more\n' >>"$M/alice/g"
uf_check_out "-o upperdir=DIR/%n: the copy lands in alice's upper" "shared
more" cat "$U/alice/g"
uf_check_out "and alice's workdir is made, 0700" "directory 700" stat -c '%F %a' "$UF_TMP/work/alice"
uf_umount "$M"
uf_check_out "%n not the last component: refused" \
	"unionfuse: upper branch '$U/%n/x': in a farm %n must be its last component [exit 1]" \
	"$BIN" "$B:$U/%n/x" "$M"
uf_check_out "a workdir without %n: refused" \
	"unionfuse: workdir '$UF_TMP/w': in a farm %n must be its last component [exit 1]" \
	"$BIN" -o "lowerdir=$B,upperdir=$U/%n,workdir=$UF_TMP/w" "$M"

mkdir -p "$M/in"
uf_check_out "uppers inside the mount point: refused (a bring-up would look into itself)" \
	"unionfuse: mount point '$M' and the sandboxes' directory '$M/in' overlap [exit 1]" \
	"$BIN" "$B:$M/in/%n" "$M"
rmdir "$M/in"

wr_check_lowers "the base is unchanged"
uf_finish
