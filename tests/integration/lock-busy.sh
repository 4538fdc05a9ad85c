#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse lock against running mounts: two real mounts sharing a lower
# both hold it (shared); `lock --no-wait` fails at once with status 75,
# naming both daemons and their mount points; `lock` waits until both are
# unmounted, then runs COMMAND; the upper of a running mount is busy too;
# -o nolock mounts hold nothing. COMMAND's exit status (and 128+signal)
# passes through; 126/127 when it cannot run; 2 for bad usage.
# Usage: lock-busy.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

L=$UF_TMP/base
mkdir -p "$L" "$UF_TMP/u1" "$UF_TMP/u2" "$UF_TMP/m1" "$UF_TMP/m2" "$UF_TMP/free"
printf 'base\n' >"$L/f"
chmod 0555 "$L" # a read-only branch can be locked too

# --- nothing mounted: the command runs, its status passes through
uf_check_out "free branch: COMMAND runs" "ran" "$BIN" lock --no-wait "$L" -- echo ran
uf_check_out "exit status of COMMAND" "[exit 7]" "$BIN" lock "$L" -- sh -c 'exit 7'
uf_check_out "killed COMMAND: 128+signal" "[exit 143]" "$BIN" lock "$L" -- sh -c 'kill -TERM $$'
uf_check_out "no such COMMAND: 127" "unionfuse lock: cannot run 'no-such-cmd-xyz': No such file or directory [exit 127]" \
	"$BIN" lock "$L" -- no-such-cmd-xyz
uf_check_out "missing COMMAND: usage, 2" "2" sh -c "'$BIN' lock '$L' -- >/dev/null 2>&1; echo \$?"
uf_check_out "missing branch: one line, 1" "unionfuse lock: branch '$UF_TMP/nope': No such file or directory [exit 1]" \
	"$BIN" lock "$UF_TMP/nope" -- true
uf_check_out "the lock fd is not inherited by COMMAND" "0" \
	"$BIN" lock "$L" -- sh -c "ls -l /proc/\$\$/fd | grep -cF '$L' || :"

# --- two mounts share the lower
uf_mount "$BIN" "$L:$UF_TMP/u1" "$UF_TMP/m1" && uf_mount "$BIN" "$L:$UF_TMP/u2" "$UF_TMP/m2" || uf_finish
p1=$(uf_daemon_pid "$UF_TMP/m1")
p2=$(uf_daemon_pid "$UF_TMP/m2")
uf_check_out "both mounts serve the shared lower" "base base" sh -c "echo \$(cat '$UF_TMP/m1/f' '$UF_TMP/m2/f')"
out=$("$BIN" lock --no-wait "$L" -- echo ran 2>&1)
uf_check_eq "--no-wait on a used branch: exit 75" "75" "$?"
uf_check_eq "--no-wait: COMMAND did not run" "" "$(printf '%s\n' "$out" | grep -x ran)"
uf_check_eq "--no-wait: one line" "1" "$(printf '%s\n' "$out" | wc -l)"
case $out in
*"branch '$L' is in use by "*"pid $p1 ("*"$UF_TMP/m1)"*) uf_pass "names the first mount's pid and mount point" ;;
*) uf_fail "names the first mount's pid and mount point" "actual: $out" ;;
esac
case $out in
*"pid $p2 ("*"$UF_TMP/m2)"*) uf_pass "names the second mount's pid and mount point" ;;
*) uf_fail "names the second mount's pid and mount point" "actual: $out" ;;
esac
out=$("$BIN" lock --no-wait "$UF_TMP/u1" -- true 2>&1)
uf_check_eq "the upper of a running mount is busy too" "75 pid $p1" "$? $(printf '%s' "$out" | grep -o "pid $p1")"

# --- lock waits for both to go, then runs
"$BIN" lock "$L" -- sh -c "date +%s.%N >'$UF_TMP/ran'" 2>"$UF_TMP/lock.err" &
lk=$!
sleep 1
uf_check_eq "lock waits while mounts use the branch" "" "$(cat "$UF_TMP/ran" 2>/dev/null)"
uf_check_out "and says once that it waits" "1" grep -c "is in use by .*: waiting" "$UF_TMP/lock.err"
uf_umount "$UF_TMP/m1"
sleep 1
uf_check_eq "still waiting while one mount remains" "" "$(cat "$UF_TMP/ran" 2>/dev/null)"
uf_umount "$UF_TMP/m2"
t0=$(date +%s.%N)
wait "$lk"
uf_check_eq "lock exits 0 once it ran" "0" "$?"
uf_check "COMMAND ran after the last unmount" test -s "$UF_TMP/ran"

# --- -o nolock holds nothing
if uf_mount "$BIN" "$L:$UF_TMP/u1" "$UF_TMP/m1" -o nolock; then
	uf_check_out "a nolock mount does not make the branch busy" "ran" "$BIN" lock --no-wait "$L" -- echo ran
	uf_umount "$UF_TMP/m1"
fi
# --- a read-only union locks all its branches
if uf_mount "$BIN" "$L:$UF_TMP/free" "$UF_TMP/m1" -o ro; then
	uf_check_out "-o ro: the top branch is a lower, locked" "75" sh -c "'$BIN' lock -n '$UF_TMP/free' -- true 2>/dev/null; echo \$?"
	uf_umount "$UF_TMP/m1"
fi
: "$t0"
uf_check_eq "nothing mounted at the end" "" "$(uf_mounts_under "$UF_TMP")"
uf_finish
