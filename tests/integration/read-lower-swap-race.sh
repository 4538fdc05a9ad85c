#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Lookups racing with lower-branch change notification. For ~12 s one
# process swaps sibling directories directly in a lower (renameat2
# RENAME_EXCHANGE, and mv through a temporary name), some of them copied up
# or merged with a second lower, while readers run ls -R, find, stat, cat and
# lookups of the swapped names through the union and a writer creates files
# in them. Every operation runs under timeout. The test fails when the daemon
# dies, an operation hangs, the mount stops answering, or (daemon built with
# -Dsanitize=true: UF_SANITIZE=1 or libasan in its ldd) AddressSanitizer
# reports anything. Once the lowers are still, the union must show what a
# fresh kernel overlay mount shows.
# $UF_SLOW_INOTIFY (meson sets it): an LD_PRELOAD module that delays
# inotify_add_watch() by $UF_SLOW_INOTIFY_US (default 1000) microseconds,
# widening the window between a new directory inode becoming visible to the
# notify thread and its publication. UF_RACE_SECONDS changes the duration.
# Usage: read-lower-swap-race.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd timeout find
uf_tmp

SECS=${UF_RACE_SECONDS:-12}
N=16
T=$UF_TMP/t
M=$UF_TMP/mnt
K=$UF_TMP/k
L1=$T/l1 L2=$T/l2 U=$T/u
ASAN_DIR=$UF_TMP/asan
mkdir -p "$L1" "$L2" "$U" "$M" "$K" "$ASAN_DIR"

for i in $(seq 0 $((N - 1))); do
	mkdir -p "$L1/d$i/s$i/t$i"
	printf '%s' "$i" >"$L1/d$i/f"
	printf '%s' "$i" >"$L1/d$i/s$i/g"
	if [ $((i % 3)) -eq 0 ]; then
		mkdir -p "$L2/d$i"
		printf '%s' "$i" >"$L2/d$i/m$i"
	fi
done

sanitized=0
if [ "${UF_SANITIZE:-0}" = 1 ] || ldd "$BIN" 2>/dev/null | grep -q libasan; then
	sanitized=1
fi
preload=
if [ -n "${UF_SLOW_INOTIFY:-}" ] && [ -r "$UF_SLOW_INOTIFY" ]; then
	preload=$UF_SLOW_INOTIFY
	# The ASan runtime must come first in the list of loaded libraries.
	asan_lib=$(ldd "$BIN" 2>/dev/null | awk '/libasan/ { print $3 }')
	[ -n "$asan_lib" ] && preload="$asan_lib $preload"
else
	uf_log "no UF_SLOW_INOTIFY module: the race window stays narrow"
fi
uf_log "sanitized=$sanitized preload=${preload:-none} seconds=$SECS"

# The environment for the daemon alone, not for timeout(1) around it.
cat >"$UF_TMP/unionfuse" <<EOF
#!/bin/sh
export LD_PRELOAD='$preload' UF_SLOW_INOTIFY_US='${UF_SLOW_INOTIFY_US:-1000}'
export ASAN_OPTIONS='log_path=$ASAN_DIR/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}'
exec '$BIN' "\$@"
EOF
chmod +x "$UF_TMP/unionfuse"
uf_mount "$UF_TMP/unionfuse" "$L1:$L2:$U" "$M" || uf_finish
PID=$(uf_daemon_pid "$M")
uf_check "the daemon is running" test -n "$PID"

# Some of the dirs copied up before the storm.
for i in 0 1 5 8; do printf 'w' >"$M/d$i/w"; done
lowers_tree=$(tree_snapshot "$L2")

"$UF_PYTHON" - "$L1" "$N" "$SECS" >"$UF_TMP/swap.out" 2>&1 <<'EOF' &
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
base, n, secs = os.fsencode(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end, swaps = time.time() + secs, 0
while time.time() < end:
    a, b = random.sample(range(n), 2)
    pa, pb = base + b"/d%d" % a, base + b"/d%d" % b
    if swaps % 4 == 3:
        tmp = base + b"/tmp"
        os.rename(pa, tmp); os.rename(pb, pa); os.rename(tmp, pb)
    elif libc.renameat2(-100, pa, -100, pb, 2) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
    swaps += 1
    time.sleep(0.0005)
print(swaps, "swaps")
EOF

# op CMD...: run CMD with a deadline; a timeout means a hang.
op() {
	local rc=0
	timeout -k 5 20 "$@" >/dev/null 2>&1 || rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "hang: $*" >>"$UF_TMP/hangs"
	fi
	return 0
}

reader() {
	local end=$((SECONDS + SECS)) i
	while [ $SECONDS -lt $end ]; do
		case $1 in
		ls) op ls -laR "$M" ;;
		find) op find "$M" -name 'g*' ;;
		stat)
			for i in $(seq 0 $((N - 1))); do
				op stat "$M/d$i" "$M/d$i/s$i" "$M/d$i/s$i/t$i" "$M/d$i/f"
			done
			;;
		cat) for i in $(seq 0 $((N - 1))); do op cat "$M/d$i/f" "$M/d$i/s$i/g"; done ;;
		write)
			i=$((RANDOM % N))
			op sh -c "printf x >'$M/d$i/n$RANDOM'"
			;;
		esac
	done
}
# A daemon that died may linger as a zombie with the connection still open
# (a thread stuck in a notification the kernel cannot complete without it);
# callers then sleep uninterruptibly, beyond timeout(1)'s reach. So the
# test never waits on the mount unbounded: it watches the daemon, and aborts
# the connection when the daemon is dead or the deadline has passed.
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$PID/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

abort_mount() {
	local conn fusectl=
	conn=$(uf_mounts_under "$M" | awk -v m="$M" '$2 == m { print $3 }')
	[ -n "$conn" ] || return 0
	if [ ! -d "/sys/fs/fuse/connections/$conn" ] &&
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null; then
		fusectl=1
	fi
	echo 1 >"/sys/fs/fuse/connections/$conn/abort" 2>/dev/null
	fusermount3 -uz "$M" 2>/dev/null
	[ -n "$fusectl" ] && umount /sys/fs/fuse/connections
	alive && kill -9 "$PID" 2>/dev/null
	return 0
}

# watch DEADLINE: until every background job ends; 1 when the daemon died
# or DEADLINE (in $SECONDS) passed first, after aborting the mount.
watch() {
	while [ -n "$(jobs -rp)" ]; do
		if ! alive; then
			uf_log "the daemon is dead: aborting the mount"
			abort_mount
			return 1
		fi
		if [ "$SECONDS" -ge "$1" ]; then
			uf_log "still running after the deadline: aborting the mount"
			abort_mount
			return 1
		fi
		sleep 0.2
	done
	return 0
}

for r in ls find stat cat write; do
	reader "$r" &
done
ok=1
watch $((SECONDS + SECS + 40)) || ok=0
wait
uf_log "$(cat "$UF_TMP/swap.out")"

uf_check_eq "no operation through the union hung" "" "$(cat "$UF_TMP/hangs" 2>/dev/null)"
uf_check "the daemon survived the storm" alive || ok=0
if [ "$ok" = 1 ]; then
	(timeout 20 ls "$M/d0" >/dev/null 2>&1; echo $? >"$UF_TMP/ls.rc") &
	watch $((SECONDS + 30)) || ok=0
	wait
	uf_check_eq "the mount still answers" 0 "$(cat "$UF_TMP/ls.rc" 2>/dev/null)" "ls $M/d0" || ok=0
fi

if [ "$ok" = 1 ]; then
	# Still lowers: the union converges on what the kernel shows.
	sleep 1
	if mount -t overlay overlay -o "lowerdir=$U:$L2:$L1,redirect_dir=follow" "$K" 2>/dev/null; then
		uf_diff_views "after the storm" "$K" "$M"
		umount "$K"
	else
		uf_fail "mount -t overlay of the branches"
	fi
	uf_check_eq "the union left the second lower as it was" "$lowers_tree" "$(tree_snapshot "$L2")"
	uf_umount "$M"
fi
if [ "$sanitized" = 1 ]; then
	reports=$(cat "$ASAN_DIR"/asan* 2>/dev/null | head -n 60)
	uf_check_eq "no AddressSanitizer report" "" "$reports"
fi
uf_finish
