#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Daemon lifecycle: "unionfuse B M && ls M" works at once (the mount is up
# before the parent exits); SIGTERM unmounts cleanly (daemonized and -f);
# fusermount3 -u ends a -f daemon with status 0; -s and -d mount too.
# Usage: mount-lifecycle.sh UNIONFUSE-BINARY
set -u
BIN=$(realpath "${1:?usage: $0 UNIONFUSE-BINARY}")
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1" "$T/b2" "$T/u" "$M"
printf 'one' >"$T/b1/one"
printf 'two' >"$T/b2/two"
printf 'up' >"$T/u/up"
: >"$M/under-the-mount"       # visible only while nothing is mounted on M
B="$T/b1:$T/b2:$T/u"
EXPECT_LS=$(printf '%s\n' one two up)

# wait_gone PID SECONDS: PID (not our child) has exited.
wait_gone() {
	local n=$(($2 * 20))
	while [ "$n" -gt 0 ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# clean_unmount_checks LABEL: nothing left mounted on M, M shows the
# directory underneath again.
clean_unmount_checks() {
	if uf_wait_unmounted "$M" 5; then uf_pass "$1: mount gone from mountinfo"; else
		uf_fail "$1: mount gone from mountinfo" "expected: no mount on $M" \
			"actual:   $(grep -F " $M " /proc/self/mountinfo)"
		uf_unmount_one fuse "$M" ""
	fi
	uf_check_out "$1: mountpoint shows the underlying dir again" "under-the-mount" ls "$M"
}

# --- daemonize: the mount is usable the moment the command returns
out=$(timeout 30 "$BIN" "$B" "$M" >"$UF_TMP/d.out" 2>"$UF_TMP/d.err" && ls "$M" 2>&1)
rc=$?
uf_check_eq "'unionfuse B M && ls M' lists the union at once" "$EXPECT_LS" "$out" "$BIN $B $M && ls $M"
uf_check_eq "daemonizing parent exits 0" "0" "$rc"
uf_check_eq "daemonizing parent prints nothing on stdout" "" "$(cat "$UF_TMP/d.out")"
if uf_wait_mounted "$M" 5; then
	uf_check "mountpoint -q right after" mountpoint -q "$M"
	pid=$(uf_daemon_pid "$M")
	if [ -z "$pid" ]; then
		uf_fail "find the daemon's pid" "expected: a process with $M as its last argument" "actual:   none"
		uf_umount "$M"
	else
		uf_pass "daemon runs in the background as pid $pid"
		uf_check_out "daemon is not in our session (setsid)" "yes" \
			bash -c '[ "$(ps -o sid= -p "$1" | tr -d " ")" != "$(ps -o sid= -p $$ | tr -d " ")" ] && echo yes || echo no' _ "$pid"
		kill -TERM "$pid"
		if wait_gone "$pid" 10; then uf_pass "daemonized: SIGTERM ends the daemon"; else
			uf_fail "daemonized: SIGTERM ends the daemon" "expected: pid $pid gone within 10 s" "actual:   still running"
		fi
		clean_unmount_checks "daemonized SIGTERM"
	fi
fi

# --- relative paths: the detached daemon works in /, yet SIGTERM must
# unmount the mount point it was given (it used to leave a dead mount)
if (cd "$UF_TMP" && timeout 30 "$BIN" t/b1:t/b2:t/u mnt) 2>"$UF_TMP/d.err" && uf_wait_mounted "$M" 5; then
	uf_check_out "relative branches and mount point: the union" "$EXPECT_LS" ls "$M"
	pid=$(pgrep -n -f -x -- "$BIN t/b1:t/b2:t/u mnt")
	uf_check "relative: the daemon's pid" [ -n "$pid" ]
	[ -n "$pid" ] && kill -TERM "$pid"
	if [ -n "$pid" ] && wait_gone "$pid" 10; then uf_pass "relative: SIGTERM ends the daemon"; else
		uf_fail "relative: SIGTERM ends the daemon" "expected: pid ${pid:-?} gone within 10 s" "actual:   still running"
	fi
	clean_unmount_checks "relative SIGTERM"
else
	uf_fail "relative branches and mount point: mounted" "stderr: $(head -c 2000 "$UF_TMP/d.err")"
fi

# --- -f: SIGTERM, then fusermount3 -u, both end with status 0
for how in sigterm fusermount; do
	"$BIN" -f "$B" "$M" >"$UF_TMP/f.out" 2>"$UF_TMP/f.err" &
	pid=$!
	if ! uf_wait_mounted "$M" 10; then
		uf_fail "-f ($how): mounted" "expected: mount on $M" "actual:   none; stderr: $(cat "$UF_TMP/f.err")"
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		continue
	fi
	uf_check_out "-f ($how): union readable" "$EXPECT_LS" ls "$M"
	if kill -0 "$pid" 2>/dev/null; then uf_pass "-f ($how): stays in the foreground"; else
		uf_fail "-f ($how): stays in the foreground" "expected: pid $pid alive while mounted" "actual:   exited"
	fi
	if [ "$how" = sigterm ]; then kill -TERM "$pid"; else fusermount3 -u "$M"; fi
	rc=0
	timeout 10 tail --pid="$pid" -f /dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		uf_fail "-f ($how): daemon exits" "expected: exit within 10 s" "actual:   still running"
		kill -KILL "$pid"
	fi
	wait "$pid"
	uf_check_eq "-f ($how): exit status" "0" "$?"
	uf_check_eq "-f ($how): nothing on stderr (no -d, nothing went wrong)" "" "$(head -c 2000 "$UF_TMP/f.err")" \
		"$BIN -f $B $M"
	clean_unmount_checks "-f $how"
done

# --- -s (single-threaded) and -d (debug, implies foreground)
if uf_mount "$BIN" "$B" "$M" -s; then
	uf_check_out "-s: union readable" "$EXPECT_LS" ls "$M"
	uf_check_out "-s: file content" "two" cat "$M/two"
	uf_umount "$M"
fi
"$BIN" -d "$B" "$M" >"$UF_TMP/d.out" 2>"$UF_TMP/d.err" &
pid=$!
if uf_wait_mounted "$M" 10; then
	uf_check_out "-d: union readable" "$EXPECT_LS" ls "$M"
	uf_check "-d: process stays in the foreground" kill -0 "$pid"
	uf_umount "$M"
	timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid"
	uf_check_eq "-d: exit status after fusermount3 -u" "0" "$?"
	if [ -s "$UF_TMP/d.err" ]; then uf_pass "-d: debug output on stderr"; else
		uf_fail "-d: debug output on stderr" "expected: non-empty stderr" "actual:   empty"
	fi
else
	uf_fail "-d: mounted" "expected: mount on $M" "actual:   none; stderr: $(head -c 2000 "$UF_TMP/d.err")"
	kill "$pid" 2>/dev/null
fi
uf_finish
