#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Mounts against `unionfuse lock`: while COMMAND runs, a new mount of the
# branch waits (one line naming the lock's pid and command) and mounts
# when COMMAND ends, seeing what COMMAND did; -o lock_wait=1 gives up after
# a second with one line and nothing mounted; lock_wait=0 at once; -o nolock
# mounts at once and sees COMMAND's changes live.
# Usage: lock-mounts-wait.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

L=$UF_TMP/base
U=$UF_TMP/upper
M=$UF_TMP/mnt
mkdir -p "$L" "$U" "$M"
printf 'v1\n' >"$L/version"

# --- a mount waits for the lock, then sees the new base
"$BIN" lock "$L" -- sh -c "sleep 2; printf 'v2\n' >'$L/version'" &
lk=$!
sleep 0.3
t0=$(date +%s%N)
if uf_mount "$BIN" "$L:$U" "$M"; then
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	if [ "$ms" -ge 1200 ]; then uf_pass "the mount waited for COMMAND (${ms} ms)"; else
		uf_fail "the mount waited for COMMAND" "expected: >= 1200 ms" "actual:   $ms ms"
	fi
	uf_check_out "it sees the base as COMMAND left it" "v2" cat "$M/version"
	uf_check_out "one line said it waited, naming the lock" "1" \
		grep -c "^unionfuse: branch '$L' is locked by pid $lk (.*lock $L -- sh -c .*): waiting for it" "$UF_TMP/mount.err"
	uf_check_out "one line said it goes on" "1" grep -c "branch '$L' is unlocked: mounting" "$UF_TMP/mount.err"
	uf_umount "$M"
fi
wait "$lk"
uf_check_eq "lock exits with COMMAND's status" "0" "$?"

# --- lock_wait=1 gives up; lock_wait=0 does not wait
"$BIN" lock "$L" -- sleep 4 &
lk=$!
sleep 0.3
t0=$(date +%s%N)
out=$("$BIN" -o lock_wait=1 "$L:$U" "$M" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
uf_check_eq "lock_wait=1: exit 1" "1" "$rc"
uf_check_eq "lock_wait=1: gave up after about a second" "1" "$([ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] && echo 1 || echo "$ms ms")"
uf_check_eq "lock_wait=1: the last line says why" \
	"unionfuse: branch '$L' is still locked by pid $lk ($BIN lock $L -- sleep 4) after 1 s (-o lock_wait=): not mounted" \
	"$(printf '%s\n' "$out" | tail -n 1)"
uf_check_eq "lock_wait=1: nothing mounted" "" "$(uf_mounts_under "$M")"
out=$("$BIN" -o lock_wait=0 "$L:$U" "$M" 2>&1)
uf_check_eq "lock_wait=0: one line at once" \
	"unionfuse: branch '$L' is locked by pid $lk ($BIN lock $L -- sleep 4): not mounted (-o lock_wait=0) 1" "$out $?"

# --- nolock: mounts at once and sees changes live
if uf_mount "$BIN" "$L:$U" "$M" -o nolock; then
	uf_pass "-o nolock mounts while the branch is locked"
	printf 'v3\n' >"$L/version"
	uf_check_out "and sees the base change live" "v3" cat "$M/version"
	uf_umount "$M"
fi
uf_check_out "nolock with lock_wait is refused" "unionfuse: -o lock_wait= contradicts -o nolock [exit 1]" \
	"$BIN" -o nolock,lock_wait=3 "$L:$U" "$M"
wait "$lk"
uf_check_eq "nothing mounted at the end" "" "$(uf_mounts_under "$UF_TMP")"
uf_finish
