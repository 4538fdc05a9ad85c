#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The sandbox farm against one mount per sandbox: N sandboxes (default
# 1000) over one base of 100,000 files (1000 dirs x 100 files, made once in
# $BASE and reused), each touched the same way: first access (a stat of its
# root), a walk of one subtree (list one dir of 100 files, stat each), and
# a few writes (a new file, a copy-up of a base file, a mkdir). Compared in
# one run:
#   farm     one unionfuse daemon: BASE:UPPERS/%n on one mount
#   separate one unionfuse daemon and mount per sandbox
#   kernel   one kernel overlayfs mount per sandbox
# Reported: the time to the first access of a new sandbox (median and p99;
# for the per-sandbox mounts also the mount's own time), the daemons' Pss
# and Private_Dirty (/proc/PID/smaps_rollup) per sandbox once all are
# touched and, for the farm, once they are idle and dropped
# (-o farm_idle=IDLE); for the kernel, the growth of the kernel's slab per
# mount (a rough figure: it includes the walked dentries and inodes).
#
#   sudo bench/farm.sh [N]        env: UNIONFUSE=build/src/unionfuse,
#                                 BASE=/var/tmp/unionfuse-farm-base,
#                                 DIR=/var/tmp/unionfuse-farm-bench, IDLE=5,
#                                 KINDS="farm separate kernel"
set -u
N=${1:-1000}
UNIONFUSE=$(realpath "${UNIONFUSE:-build/src/unionfuse}")
BASE=${BASE:-/var/tmp/unionfuse-farm-base}
DIR=${DIR:-/var/tmp/unionfuse-farm-bench}
IDLE=${IDLE:-5}
KINDS=${KINDS:-farm separate kernel}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$UNIONFUSE" ] || { echo "no $UNIONFUSE" >&2; exit 1; }

MOUNTS=() # everything this script mounted, unmounted by the trap
cleanup() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		case ${MOUNTS[i]} in
		fuse:*) fusermount3 -u "${MOUNTS[i]#fuse:}" 2>/dev/null || fusermount3 -uz "${MOUNTS[i]#fuse:}" ;;
		*) umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ;;
		esac
	done
	MOUNTS=()
	rm -rf --one-file-system "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -e "$BASE/.complete" ]; then
	echo "# making the base: $BASE (100,000 files, once)"
	rm -rf "$BASE"
	python3 - "$BASE" <<'EOF'
import os, sys
base = sys.argv[1]
for d in range(1000):
    p = os.path.join(base, "d%03d" % d)
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, "f%03d" % f), "w") as fh:
            fh.write("file %d/%d\n" % (d, f))
EOF
	touch "$BASE/.complete"
fi
rm -rf "$DIR"
mkdir -p "$DIR"
names() { seq -f 's%04g' 1 "$N"; }

# touch ROOT-OF-EACH (a printf pattern with %s for the name): per sandbox,
# the first access time, then the walk and the writes. Prints the times of
# the first accesses (ms), one per line.
touch_all() {
	python3 - "$1" "$N" <<'EOF'
import os, sys, time
pat, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    root = pat % ("s%04d" % i)
    t0 = time.perf_counter()
    os.stat(root)
    t1 = time.perf_counter()
    d = os.path.join(root, "d%03d" % (i % 1000))
    for name in os.listdir(d):
        os.stat(os.path.join(d, name))
    with open(os.path.join(root, "new"), "w") as f:
        f.write("new\n")
    with open(os.path.join(d, "f000"), "a") as f:
        f.write("changed\n")
    os.mkdir(os.path.join(root, "made"))
    print("%.3f" % ((t1 - t0) * 1000))
EOF
}

# stats FILE: "median p99" of the numbers in FILE.
stats() {
	sort -n "$1" | awk '{v[NR] = $1} END {k = int(NR * 0.99); if (k < 1) k = 1; printf "%.2f %.2f", v[int((NR + 1) / 2)], v[k]}'
}

# mem PID...: "Pss Private_Dirty" in KiB, summed.
mem() {
	local p pss=0 pd=0 a b
	for p in "$@"; do
		a=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")
		b=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$p/smaps_rollup")
		pss=$((pss + a))
		pd=$((pd + b))
	done
	echo "$pss $pd"
}

slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }

daemon_pid() { # the unionfuse whose last argument is $1
	local p
	for p in /proc/[0-9]*; do
		[ "$( { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | tail -n 1)" = "$1" ] || continue
		case $(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | head -n 1) in *unionfuse) echo "${p#/proc/}"; return ;; esac
	done
}

per() { awk -v a="$1" -v n="$N" 'BEGIN {printf "%.1f", a / n}'; }

echo "# N=$N sandboxes, base $BASE, $(nproc) CPUs, kernel $(uname -r), $("$UNIONFUSE" --version | head -n 1)"
printf '%-9s %-22s %-22s %-26s %s\n' kind "first access ms (med p99)" "mount ms (med p99)" "KiB/sandbox Pss/PrivDirty" "idle KiB/sandbox Pss/PrivDirty"

for kind in $KINDS; do
	sync
	echo 3 >/proc/sys/vm/drop_caches
	case $kind in
	farm)
		mkdir -p "$DIR/farm/uppers" "$DIR/farm/mnt"
		for s in $(names); do mkdir "$DIR/farm/uppers/$s"; done
		"$UNIONFUSE" -o "farm_idle=$IDLE" "$BASE:$DIR/farm/uppers/%n" "$DIR/farm/mnt" || exit 1
		MOUNTS+=("fuse:$DIR/farm/mnt")
		pid=$(daemon_pid "$DIR/farm/mnt")
		read -r pss0 pd0 < <(mem "$pid")
		fdsE=$(ls "/proc/$pid/fd" | wc -l)
		touch_all "$DIR/farm/mnt/%s" >"$DIR/farm.first"
		read -r pss1 pd1 < <(mem "$pid")
		# Idle: wait until every sandbox is dropped (the daemon's fds).
		fds0=$(ls "/proc/$pid/fd" | wc -l)
		for _ in $(seq $((IDLE * 10 + 600))); do
			sleep 0.5
			[ "$(ls "/proc/$pid/fd" | wc -l)" -le "$fdsE" ] && break
		done
		fds1=$(ls "/proc/$pid/fd" | wc -l)
		read -r pss2 pd2 < <(mem "$pid")
		# Brought up again: the first access of a dropped sandbox.
		python3 - "$DIR/farm/mnt" "$N" >"$DIR/farm.again" <<'EOF'
import os, sys, time
for i in range(1, int(sys.argv[2]) + 1):
    t0 = time.perf_counter(); os.stat(os.path.join(sys.argv[1], "s%04d" % i, "new"))
    print("%.3f" % ((time.perf_counter() - t0) * 1000))
EOF
		printf '%-9s %-22s %-22s %-26s %s\n' farm "$(stats "$DIR/farm.first")" "-" \
			"$(per $((pss1 - pss0)))/$(per $((pd1 - pd0)))" \
			"$(per $((pss2 - pss0)))/$(per $((pd2 - pd0))) (fds $fds0 -> $fds1)"
		echo "#   farm: daemon Pss/Private_Dirty KiB: empty $pss0/$pd0, all touched $pss1/$pd1, all idle $pss2/$pd2; again after the drop: first access $(stats "$DIR/farm.again") ms"
		;;
	separate)
		mkdir -p "$DIR/sep"
		: >"$DIR/sep.mount"
		: >"$DIR/sep.pids"
		for s in $(names); do
			mkdir -p "$DIR/sep/$s/upper" "$DIR/sep/$s/mnt"
			t0=$(date +%s%N)
			"$UNIONFUSE" "$BASE:$DIR/sep/$s/upper" "$DIR/sep/$s/mnt" || exit 1
			t1=$(date +%s%N)
			MOUNTS+=("fuse:$DIR/sep/$s/mnt")
			echo "$(((t1 - t0) / 1000))" | awk '{printf "%.3f\n", $1 / 1000}' >>"$DIR/sep.mount"
		done
		for p in /proc/[0-9]*; do # the unionfuse daemons of $DIR/sep, in one pass
			case $( { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | tail -n 1) in
			"$DIR"/sep/*/mnt) echo "${p#/proc/}" ;;
			esac
		done >"$DIR/sep.pids"
		echo "#   separate: $(wc -l <"$DIR/sep.pids") daemons"
		# shellcheck disable=SC2046
		read -r pss0 pd0 < <(mem $(cat "$DIR/sep.pids"))
		touch_all "$DIR/sep/%s/mnt" >"$DIR/sep.first"
		# shellcheck disable=SC2046
		read -r pss1 pd1 < <(mem $(cat "$DIR/sep.pids"))
		printf '%-9s %-22s %-22s %-26s %s\n' separate "$(stats "$DIR/sep.first")" "$(stats "$DIR/sep.mount")" \
			"$(per "$pss1")/$(per "$pd1")" "$(per "$pss0")/$(per "$pd0") (mounted, untouched)"
		for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do fusermount3 -u "${MOUNTS[i]#fuse:}"; done
		MOUNTS=()
		;;
	kernel)
		mkdir -p "$DIR/ovl"
		: >"$DIR/ovl.mount"
		s0=$(slab)
		for s in $(names); do
			mkdir -p "$DIR/ovl/$s/upper" "$DIR/ovl/$s/work" "$DIR/ovl/$s/mnt"
			t0=$(date +%s%N)
			mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$DIR/ovl/$s/upper,workdir=$DIR/ovl/$s/work" "$DIR/ovl/$s/mnt" || exit 1
			t1=$(date +%s%N)
			MOUNTS+=("$DIR/ovl/$s/mnt")
			echo "$(((t1 - t0) / 1000))" | awk '{printf "%.3f\n", $1 / 1000}' >>"$DIR/ovl.mount"
		done
		s1=$(slab)
		touch_all "$DIR/ovl/%s/mnt" >"$DIR/ovl.first"
		s2=$(slab)
		printf '%-9s %-22s %-22s %-26s %s\n' kernel "$(stats "$DIR/ovl.first")" "$(stats "$DIR/ovl.mount")" \
			"slab $(per $((s2 - s0)))" "slab $(per $((s1 - s0))) (mounted, untouched)"
		for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}"; done
		MOUNTS=()
		;;
	esac
done
