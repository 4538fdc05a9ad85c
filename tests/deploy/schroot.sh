#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# schroot sessions on unionfuse (contrib/schroot): a type=custom chroot with
# unionfuse.lowers= over a small busybox base; real `schroot -b`, `-r`,
# `-e`. Each session sees the base and its own changes only (two sessions
# at once are isolated), the base is never written, a session's changes
# are gone after -e (no daemon, no mount, no tmpfs left), and
# `unionfuse lock BASE -- CMD` waits for running sessions, while a session
# begun during CMD waits for it and sees its update.
# Runs in a mount namespace of its own, where our files are bind-mounted on
# /etc/schroot/{chroot.d,setup.d}, /usr/local/sbin (the daemon, on the
# setup scripts' PATH), /var/lib/schroot/session and /run/schroot: nothing
# of the host's schroot configuration is read or changed.
# Usage: schroot.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
BIN=$(realpath "$BIN")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd unshare schroot busybox flock
[ -d /etc/schroot/setup.d ] && ls /usr/lib/*/schroot/schroot-listmounts >/dev/null 2>&1 ||
	uf_skip "schroot's setup scripts are not installed"
BUSYBOX=$(command -v busybox)
! ldd "$BUSYBOX" >/dev/null 2>&1 || uf_skip "busybox is not static (install busybox-static)"
if [ -z "${UF_IN_MOUNTNS:-}" ]; then
	exec unshare -m --propagation private env UF_IN_MOUNTNS=1 "$0" "$BIN"
fi
uf_tmp

# --- the private schroot configuration
mkdir -p "$UF_TMP/bin" "$UF_TMP/chroot.d" "$UF_TMP/session" "$UF_TMP/run"
ln -s "$BIN" "$UF_TMP/bin/unionfuse"
cp -a /etc/schroot/setup.d "$UF_TMP/setup.d"
install -m 755 "$SRC/contrib/schroot/setup.d/08unionfuse" "$UF_TMP/setup.d/"
B=$UF_TMP/base
mkdir -p "$B/bin" "$B/etc" "$B/root" "$B/tmp" "$B/proc" "$B/sys" "$B/dev" "$B/home"
cp "$BUSYBOX" "$B/bin/busybox"
for c in sh ls cat rm touch echo mkdir stat; do ln -s busybox "$B/bin/$c"; done
printf 'base\n' >"$B/etc/motd"
printf 'remove me\n' >"$B/etc/base-file"
printf 'v1\n' >"$B/etc/version"
cat >"$UF_TMP/chroot.d/ufbase" <<EOC
[ufbase]
description=unionfuse test base
type=custom
unionfuse.lowers=$B
root-users=root
profile=minimal
EOC
for m in chroot.d:/etc/schroot/chroot.d setup.d:/etc/schroot/setup.d bin:/usr/local/sbin \
	session:/var/lib/schroot/session run:/run/schroot; do
	mkdir -p "${m#*:}"
	mount --bind "$UF_TMP/${m%%:*}" "${m#*:}" || uf_skip "cannot bind-mount over ${m#*:}"
done
# End every session (their daemons live in this namespace) before the
# common cleanup.
end_all() { schroot -e --all-sessions >/dev/null 2>&1; uf_cleanup; }
trap end_all EXIT

base_before=$(tree_snapshot "$B")
# run_in SESSION CMD: run CMD with sh in the session, from /. schroot 1.6
# writes a custom chroot's session file with a key it then warns about
# ("custom-session-purgeable ... is not a permitted name"): not ours.
run_in() {
	local s=$1
	shift
	schroot -r -c "$s" -d / -- sh -c "$*" 2>&1 | grep -v "custom-session-purgeable.*not a permitted name"
}
# The daemons' mount points are schroot's, under /var/run (a symlink).
n_daemons() { uf_daemon_pids_under /var/run/schroot/mount | wc -l; }
n_mounts() { uf_mounts_under /run/schroot/mount | wc -l; }

# --- two sessions at once
t0=$(date +%s.%N)
uf_check "schroot -b s1" schroot -b -c ufbase -n s1
t1=$(date +%s.%N)
uf_check "schroot -b s2" schroot -b -c ufbase -n s2
uf_check_eq "each session's root is a unionfuse mount" "fuse.unionfuse fuse.unionfuse" \
	"$(uf_mounts_under /run/schroot/mount | awk '$2 ~ /\/s[12]$/ {print $1}' | sort | xargs)"
uf_check_eq "two daemons" "2" "$(n_daemons)"
uf_check_eq "the session sees the base" "base" "$(run_in s1 cat /etc/motd)"
uf_check_eq "the profile's mounts are on the union" "yes" \
	"$(run_in s1 '[ -r /proc/self/stat ] && echo yes')"
uf_check_eq "s1: write, remove a base file" "" \
	"$(run_in s1 'echo one >/etc/session; rm /etc/base-file; mkdir /root/work; echo w >/root/work/f')"
uf_check_eq "s1 sees its changes" "one|absent|w" \
	"$(run_in s1 'cat /etc/session; [ -e /etc/base-file ] || echo absent; cat /root/work/f' | paste -sd'|')"
uf_check_eq "s2 sees none of s1's changes" "no-session|remove me|no-work" \
	"$(run_in s2 '[ -e /etc/session ] || echo no-session; cat /etc/base-file; [ -e /root/work ] || echo no-work' | paste -sd'|')"
run_in s2 'echo two >/etc/session' >/dev/null
uf_check_eq "s2's write does not reach s1" "one two" "$(run_in s1 cat /etc/session) $(run_in s2 cat /etc/session)"
uf_check_eq "the base is untouched" "$base_before" "$(tree_snapshot "$B")"

# --- unionfuse lock BASE waits for the running sessions
uf_check_out "lock --no-wait: the base is in use (75)" "[exit 75]" \
	sh -c "'$BIN' lock --no-wait '$B' -- touch '$B/updated' 2>/dev/null"
"$BIN" lock "$B" -- sh -c "echo v2 >'$B/etc/version'" 2>"$UF_TMP/lock1.err" &
lock1=$!
sleep 1
uf_check_eq "the update waits while sessions run" "running v1" \
	"$([ -d /proc/$lock1 ] && echo running) $(cat "$B/etc/version")"
uf_check "schroot -e s1" schroot -e -c s1
sleep 0.5
uf_check_eq "it still waits for s2" "running v1" \
	"$([ -d /proc/$lock1 ] && echo running) $(cat "$B/etc/version")"
uf_check "schroot -e s2" schroot -e -c s2
timeout 10 tail --pid="$lock1" -f /dev/null
wait "$lock1"
rc=$?
uf_check_eq "the update ran once the sessions ended" "0 v2" "$rc $(cat "$B/etc/version")"
uf_check_eq "it said what it waited for" "1" "$(grep -c 'is in use by pid' "$UF_TMP/lock1.err")"
uf_check_eq "after -e: no daemon" "0" "$(n_daemons)"
uf_check_eq "after -e: no mount" "0" "$(n_mounts)"
uf_check_eq "after -e: no session left" "" "$(schroot -l --all-sessions 2>/dev/null)"
uf_check_eq "after -e: no mount location" "" "$(ls -A /run/schroot/mount 2>/dev/null)"

# --- a new session: the old changes are gone, the update is seen
uf_check "schroot -b s3" schroot -b -c ufbase -n s3
uf_check_eq "s1's and s2's changes are gone" "no-session|remove me|no-work|v2" \
	"$(run_in s3 '[ -e /etc/session ] || echo no-session; cat /etc/base-file; [ -e /root/work ] || echo no-work; cat /etc/version' | paste -sd'|')"
uf_check "schroot -e s3" schroot -e -c s3

# --- a session begun while an update runs waits for it
"$BIN" lock "$B" -- sh -c "sleep 2; echo v3 >'$B/etc/version'" 2>/dev/null &
lock2=$!
sleep 0.5
s=$(date +%s)
uf_check "schroot -b s4 during the update" schroot -b -c ufbase -n s4
e=$(date +%s)
uf_check_eq "it began after the update" "v3 waited" \
	"$(run_in s4 cat /etc/version) $([ $((e - s)) -ge 1 ] && echo waited)"
wait "$lock2"
uf_check "schroot -e s4" schroot -e -c s4

uf_check_eq "the base holds only the updates" \
	"$(printf '%s\n' "$base_before" | sed 's/^\(etc\/version .*\)$/VERSION/')" \
	"$(tree_snapshot "$B" | sed 's/^\(etc\/version .*\)$/VERSION/')"
uf_check_eq "no daemon, no mount left" "0 0" "$(n_daemons) $(n_mounts)"
uf_check_eq "no tmpfs left in /run/unionfuse" "" "$(grep ' /run/unionfuse' /proc/self/mountinfo)"
uf_log "schroot -b took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
uf_finish
