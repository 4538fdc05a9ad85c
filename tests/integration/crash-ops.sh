#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# SIGKILL of the daemon in the middle of namespace operations.  Each round
# starts the daemon with -f in the background, makes metadata-only copies
# of the round's "metacopy" files, then runs nine loops at once, one per
# operation type (first write to a lower file and to a metadata-only copy,
# rename of a merged lower dir and of a lower file over another, rmdir of a
# merged dir holding whiteouts, unlink of an upper file over a lower one and
# of a lower file, creat and mkdir over a whiteout), each one call after
# another on its own targets, and SIGKILLs the daemon at a random moment;
# every loop then has one call in flight: a kill point.  After a lazy
# unmount and a remount each target must show the state before its call or
# the one after it (after it when the call returned), never a mix: no
# deleted file back, a renamed dir under exactly one name with all of its
# content, a whole copy or none.  See helpers/crashrun.py.
# UF_CRASH_SEED=N repeats a run; UF_CRASH_ROUNDS=N (default 18: well over
# 100 kill points) runs longer.
# Usage: crash-ops.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
RUN=$(cd "$(dirname "$0")" && pwd)/helpers/crashrun.py

uf_require_fuse "$BIN"
uf_require_root
uf_tmp
HAVE_STRACE=false
command -v strace >/dev/null && HAVE_STRACE=true
crashrun() { "$UF_PYTHON" "$RUN" "$@"; }

# Branches on a tmpfs: a kill, unlike a power loss, keeps the page cache, and
# the trees are made much faster there.
mkdir -p "$UF_TMP/fs" "$UF_TMP/mnt"
mount -t tmpfs -o size=1g,mode=0755 tmpfs "$UF_TMP/fs" || uf_skip "cannot mount a tmpfs"
L0=$UF_TMP/fs/l0
L1=$UF_TMP/fs/l1
U=$UF_TMP/fs/upper
M=$UF_TMP/mnt
read -r -a TYPES <<<"$(crashrun types)"
for t in "${TYPES[@]}"; do mkdir -p "$L0/$t" "$L1/$t" "$U/$t" "$M/$t"; done
SEED=${UF_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
ROUNDS=${UF_CRASH_ROUNDS:-18}
N=${UF_CRASH_TARGETS:-100}
uf_log "seed $SEED (rerun with UF_CRASH_SEED=$SEED), $ROUNDS rounds of ${#TYPES[@]} loops of $N targets"

t0=$SECONDS
crashrun build "$L0" "$L1" "$U" "$ROUNDS" "$N" || { uf_fail "build the trees"; uf_finish; }
# for the reaping check at the end
t=mkdir-wh
mkdir -p "$L0/$t/reap" "$U/$t/reap" && echo gone >"$L0/$t/reap/gone" &&
	mknod "$U/$t/reap/gone" c 0 0 && mkdir -p "$U/$t/reap/.wh..wh.uf-tmp.1.1/sub" &&
	touch "$U/$t/reap/.wh..wh.uf-tmp.1.1/sub/f" && mknod "$U/$t/reap/gone2" c 0 0
lower_sum=$(cd "$UF_TMP/fs" && find l0 l1 -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
uf_log "trees made in $((SECONDS - t0)) s"

# The syscalls between the steps of an operation: under strace each is
# delayed, so that a kill lands between two steps far more often than in
# the microseconds they take on a tmpfs.
STEPS=mkdirat,mknodat,symlinkat,openat,linkat,renameat2,unlinkat,fchownat,fchmodat,fsetxattr,fremovexattr,fsync,fdatasync,ftruncate,copy_file_range
declare -A SPID DPID
# start_daemons WHAT [slow]: one daemon per type, in the background
start_daemons() {
	local t ok=0
	for t in "${TYPES[@]}"; do
		if [ "${2:-}" = slow ]; then
			strace -f -qq --seccomp-bpf -o /dev/null -e trace="$STEPS" \
				-e inject="$STEPS":delay_enter=300 \
				"$BIN" -f "$L0/$t:$L1/$t:$U/$t" "$M/$t" 2>>"$UF_TMP/daemon.err" &
		else
			"$BIN" -f "$L0/$t:$L1/$t:$U/$t" "$M/$t" 2>>"$UF_TMP/daemon.err" &
		fi
		SPID[$t]=$!
	done
	for t in "${TYPES[@]}"; do
		if ! uf_wait_mounted "$M/$t" 10; then
			uf_fail "$1: the daemon for $t mounts" "stderr: $(tail -n 20 "$UF_TMP/daemon.err")"
			ok=1
			continue
		fi
		# under strace, the daemon is strace's child
		DPID[$t]=${SPID[$t]}
		[ "${2:-}" = slow ] && DPID[$t]=$(pgrep -P "${SPID[$t]}" | head -n 1)
	done
	return $ok
}

# drop_dead: the killed daemons' mounts go
drop_dead() {
	local t
	for t in "${TYPES[@]}"; do
		kill -KILL "${DPID[$t]}" 2>/dev/null # the kill may not have come
		{ wait "${SPID[$t]}"; } 2>/dev/null
		fusermount3 -uz "$M/$t" 2>/dev/null || umount -l "$M/$t"
		uf_wait_unmounted "$M/$t" 10 || uf_fail "the dead mount $M/$t goes"
	done
}

KILLPOINTS=0
for ((r = 0; r < ROUNDS; r++)); do
	# odd rounds: under strace, with delays between the steps
	start_daemons "round $r" $([ $((r % 2)) = 1 ] && $HAVE_STRACE && echo slow) || break
	crashrun prep "$M" "$r" || uf_fail "round $r: metadata-only copies made"
	pids=$(for t in "${TYPES[@]}"; do printf '%s=%s,' "$t" "${DPID[$t]}"; done)
	crashrun kill "$M" "${pids%,}" "$r" "$N" $((SEED + r)) "$UF_TMP/pace$((r % 2))" \
		>"$UF_TMP/res.$r" 2>&1
	drop_dead
	start_daemons "round $r remount" || break
	out=$(crashrun check "$M" "$U" "$L0" "$L1" "$r" "$N" "$UF_TMP/res.$r" 2>&1)
	printf '%s\n' "$out" | grep -v -e '^KILLPOINTS' -e '^[0-9]* passed, [0-9]* failed$'
	grep '^#' "$UF_TMP/res.$r"
	line=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		UF_NPASS=$((UF_NPASS + BASH_REMATCH[1]))
		UF_NFAIL=$((UF_NFAIL + BASH_REMATCH[2]))
	else
		uf_fail "round $r: the check ran to its end" "$out" "$(cat "$UF_TMP/res.$r")"
	fi
	k=$(printf '%s\n' "$out" | sed -n 's/^KILLPOINTS //p')
	KILLPOINTS=$((KILLPOINTS + ${k:-0}))
	for t in "${TYPES[@]}"; do
		uf_umount "$M/$t"
		wait "${SPID[$t]}" 2>/dev/null
	done
done
# What a dead daemon left aside in a merged upper dir (a temporary dir with
# content: an object made aside, or a removed dir being emptied) is reaped
# by the next listing, which must not fail for it.
t=mkdir-wh
start_daemons "reaping" && {
	uf_check_out "a dead daemon's temporary dir among whiteouts: the listing works (empty)" "OK 0" \
		bash -c '"$1" "$2" errno listdir "$3"' _ "$UF_PYTHON" "$UF_LIB/fsutil.py" "$M/$t/reap"
	uf_check_out "and the temporary dir is reaped" "absent" \
		bash -c '[ -e "$1" ] && echo present || echo absent' _ "$U/$t/reap/.wh..wh.uf-tmp.1.1"
	for t in "${TYPES[@]}"; do
		uf_umount "$M/$t"
		{ wait "${SPID[$t]}"; } 2>/dev/null
	done
}
uf_log "$KILLPOINTS kill points in $ROUNDS rounds, $((SECONDS - t0)) s"
# Most loops are mid-way at the kill; fewer than half the loops in flight
# means the kills came too late or too early to test anything.
n=$((ROUNDS * ${#TYPES[@]}))
if [ "$KILLPOINTS" -ge $((n / 2)) ]; then
	uf_pass "at least half the loops had a call in flight at the kill ($KILLPOINTS of $n)"
else
	uf_fail "at least half the loops had a call in flight at the kill" "only $KILLPOINTS of $n"
fi
uf_check_eq "the lowers are unchanged" "$lower_sum" \
	"$(cd "$UF_TMP/fs" && find l0 l1 -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)"
umount "$UF_TMP/fs"
uf_finish
