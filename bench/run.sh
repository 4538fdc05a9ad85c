#!/usr/bin/env bash
# unionfuse benchmark harness: runs the same workloads on identical, freshly
# generated data through every available union implementation and prints a
# side-by-side table.  See bench/README.md.
set -uo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")

usage() {
	cat <<EOF
usage: bench/run.sh [--quick|--full] [options]
  --quick              small data, 3 runs per cell (default)
  --full               full-size data, 5 runs per cell
  --only K1,K2         kinds: kernel,fuse-overlayfs,unionfs-fuse,unionfuse,
                       unionfuse-318,unionfuse-uring,plain
  --workloads W1,W2    workload names or groups (see --list)
  --runs N             override the number of timed runs per cell
  --dir DIR            scratch directory (default /var/tmp/unionfuse-bench)
  --no-loop            put the data straight into --dir instead of a private
                       ext4 image mounted on a loop device (the default as root)
  --keep               keep generated data and scratch dir afterwards
  --reuse-data         reuse data kept by an earlier --keep run of the same mode
  --list               list workloads and groups, then exit
env: UNIONFUSE=path (default build/src/unionfuse, libfuse 3.14),
     UNIONFUSE_318=path (default build-318/src/unionfuse, the bundled 3.18;
     also the binary of unionfuse-uring, mounted -o io_uring),
     UNIONFUSE_OPTS="-o ..." (every unionfuse kind),
     UFB_TIMEOUT=seconds per timed command
EOF
}

# ---------------------------------------------------------------- workloads
GROUPS_ORDER="meta bigdir read write copyup small sandbox depth build"
declare -A GROUP=(
	[meta]="walk-warm walk-cold lsR-warm git-status"
	[bigdir]="bigdir-lsf bigdir-lsl"
	[read]="seqread-cold seqread-warm randread"
	[write]="seqwrite randwrite"
	[copyup]="copyup-1byte copyup-chmod copyup-par8"
	[small]="untar rmrf"
	[sandbox]="sandbox-up sandbox-walk sandbox-parwalk sandbox-down"
	[depth]="depth-walk"
	[build]="build"
)
ALL_WL=""
for g in $GROUPS_ORDER; do ALL_WL+=" ${GROUP[$g]}"; done
ALL_KINDS="kernel fuse-overlayfs unionfs-fuse unionfuse unionfuse-318 unionfuse-uring plain"

MODE=quick RUNS="" ONLY="" WLS="" WORK=/var/tmp/unionfuse-bench KEEP=0 REUSE=0 USE_LOOP=1
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--only) ONLY=${2//,/ }; shift ;;
	--only=*) ONLY=${1#*=}; ONLY=${ONLY//,/ } ;;
	--workloads) WLS=${2//,/ }; shift ;;
	--workloads=*) WLS=${1#*=}; WLS=${WLS//,/ } ;;
	--runs) RUNS=$2; shift ;;
	--dir) WORK=$2; shift ;;
	--no-loop) USE_LOOP=0 ;;
	--keep) KEEP=1 ;;
	--reuse-data) REUSE=1; KEEP=1 ;;
	--list)
		for g in $GROUPS_ORDER; do printf '%-8s %s\n' "$g" "${GROUP[$g]}"; done
		exit 0 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

# ------------------------------------------------------------------ sizes
if [ "$MODE" = full ]; then
	: "${RUNS:=5}"
	TREE_N=100000 GIT_N=3000 BIG_L=20000 BIG_U=20000 BIG_WH=2000
	BIGFILE_MIB=1024 RIO_N=50000 RW_MIB=256 SEQW_MIB=1024 PAR_MIB=128
	TAR_N=30000 RM_N=20000 SB_N=100 SB_PAR=50 SB_FILES=5000
	DEPTH_B=20 DEPTH_F=5000 BUILD_N=300 TMO=${UFB_TIMEOUT:-1800} IMG_GIB=20
else
	: "${RUNS:=3}"
	TREE_N=10000 GIT_N=300 BIG_L=2000 BIG_U=2000 BIG_WH=200
	BIGFILE_MIB=100 RIO_N=5000 RW_MIB=32 SEQW_MIB=100 PAR_MIB=16
	TAR_N=3000 RM_N=2000 SB_N=10 SB_PAR=5 SB_FILES=500
	DEPTH_B=20 DEPTH_F=500 BUILD_N=30 TMO=${UFB_TIMEOUT:-300} IMG_GIB=6
fi
[ "$SB_PAR" -gt "$SB_N" ] && SB_PAR=$SB_N

# --------------------------------------------------------------- selection
SEL_WL=""
if [ -z "$WLS" ]; then
	SEL_WL=$ALL_WL
else
	for w in $WLS; do
		if [ -n "${GROUP[$w]:-}" ]; then
			SEL_WL+=" ${GROUP[$w]}"
		elif [[ " $ALL_WL " == *" $w "* ]]; then
			SEL_WL+=" $w"
		else
			echo "unknown workload '$w' (see --list)" >&2; exit 2
		fi
	done
fi
# keep canonical order, drop duplicates
tmp=""; for w in $ALL_WL; do [[ " $SEL_WL " == *" $w "* ]] && tmp+=" $w"; done
SEL_WL=$tmp
wl_selected() { [[ " $SEL_WL " == *" $1 "* ]]; }
group_selected() { local w; for w in ${GROUP[$1]}; do wl_selected "$w" && return 0; done; return 1; }

UNIONFUSE=${UNIONFUSE:-$REPO/build/src/unionfuse}
UNIONFUSE_318=${UNIONFUSE_318:-$REPO/build-318/src/unionfuse}
UNIONFUSE_OPTS=${UNIONFUSE_OPTS:-}
# The unionfuse kinds: one build each (the binary is copied to $WORK/bin
# under the kind's name, so its daemons are told apart by their comm), and
# the options of the kind. unionfuse-uring sets the kernel's
# enable_uring for the run and restores it at exit.
declare -A UF_BIN=([unionfuse]=$UNIONFUSE [unionfuse-318]=$UNIONFUSE_318 [unionfuse-uring]=$UNIONFUSE_318)
declare -A UF_KOPTS=([unionfuse]="" [unionfuse-318]="" [unionfuse-uring]="-o io_uring")
declare -A UF_INFO=()
URING_PARAM=/sys/module/fuse/parameters/enable_uring URING_OLD=""
is_uf() { [[ $1 == unionfuse* ]]; }
declare -A SKIPWHY=()
kind_available() {
	case $1 in
	kernel)
		[ "$(id -u)" = 0 ] || { SKIPWHY[$1]="not root"; return 1; }
		grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
			{ SKIPWHY[$1]="no overlay in /proc/filesystems"; return 1; } ;;
	fuse-overlayfs) command -v fuse-overlayfs >/dev/null || { SKIPWHY[$1]="not installed"; return 1; } ;;
	unionfs-fuse) command -v unionfs >/dev/null || { SKIPWHY[$1]="not installed"; return 1; } ;;
	unionfuse|unionfuse-318) [ -x "${UF_BIN[$1]}" ] || { SKIPWHY[$1]="${UF_BIN[$1]} not built"; return 1; } ;;
	unionfuse-uring)
		[ -x "${UF_BIN[$1]}" ] || { SKIPWHY[$1]="${UF_BIN[$1]} not built"; return 1; }
		"${UF_BIN[$1]}" -V | grep -q 'version 7\.4[0-9]' ||
			{ SKIPWHY[$1]="${UF_BIN[$1]} has no io_uring (libfuse < 3.18)"; return 1; }
		[ -w "$URING_PARAM" ] || { SKIPWHY[$1]="no writable $URING_PARAM"; return 1; } ;;
	plain) ;;
	*) echo "unknown kind '$1'" >&2; exit 2 ;;
	esac
	case $1 in fuse-overlayfs|unionfs-fuse|unionfuse*)
		[ -c /dev/fuse ] || { SKIPWHY[$1]="no /dev/fuse"; return 1; } ;;
	esac
	return 0
}
KINDS=""
for k in ${ONLY:-$ALL_KINDS}; do
	[[ " $ALL_KINDS " == *" $k "* ]] || { echo "unknown kind '$k'" >&2; exit 2; }
done
for k in $ALL_KINDS; do
	[ -n "$ONLY" ] && [[ " $ONLY " != *" $k "* ]] && continue
	kind_available "$k" && KINDS+=" $k"
done
KINDS=${KINDS# }
[ -n "$KINDS" ] || { echo "no kind available" >&2; exit 1; }

# ------------------------------------------------------------------- paths
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$BENCH/results
mkdir -p "$RESULTS" "$WORK"
WORK=$(cd "$WORK" && pwd)
TSV=$RESULTS/$STAMP-$MODE.tsv
LOG=$RESULTS/$STAMP-$MODE.log
FS=$WORK                # scratch filesystem root (a loop-mounted ext4 by default)
IMG=$WORK/scratch.img LOOPDEV="" FS_MOUNTED=0
[ "$(id -u)" = 0 ] || USE_LOOP=0
[ "$USE_LOOP" = 1 ] && FS=$WORK/fs
D=$FS/data              # generated data (read-only for the unions)
L=$D/lower              # the shared lower
P=$D/plain              # materialised merged views for the "plain" kind
RUN=$FS/run             # per-run uppers, workdirs, mountpoints
H=$WORK/ufb-helper
: >"$LOG"
export H LOG

log() { printf '%s\n' "$*" >>"$LOG"; }
say() { printf '%s\n' "$*" | tee -a "$LOG" >&2; }

# ----------------------------------------------------------- mount tracking
declare -A MNT_KIND=() MNT_PID=()
DAEMON_COMM() {
	case $1 in
	fuse-overlayfs) echo fuse-overlayfs ;;
	unionfs-fuse) echo unionfs ;;
	unionfuse*) echo "${1:0:15}" ;;
	esac
}

# is_mounted DIR: per /proc/self/mountinfo (mountpoint(1) says "no" for a FUSE
# mount whose daemon died, and such a mount must still be unmounted)
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# do_mount KIND LOWERS(top:..:bottom) UPPER WORKDIR MNT
do_mount() {
	local kind=$1 lowers=$2 upper=$3 wd=$4 mnt=$5 rc br l
	mkdir -p "$upper" "$wd" "$mnt"
	MNT_KIND[$mnt]=$kind
	case $kind in
	kernel)
		mount -t overlay overlay -o "lowerdir=$lowers,upperdir=$upper,workdir=$wd" "$mnt" >>"$LOG" 2>&1 ;;
	fuse-overlayfs)
		fuse-overlayfs -o "lowerdir=$lowers,upperdir=$upper,workdir=$wd" "$mnt" >>"$LOG" 2>&1 ;;
	unionfs-fuse)
		br="$upper=RW"
		local IFS=:
		for l in $lowers; do br+=":$l=RO"; done
		unset IFS
		unionfs -o cow,hide_meta_files "$br" "$mnt" >>"$LOG" 2>&1 ;;
	unionfuse*)
		# shellcheck disable=SC2086
		"${UF_BIN[$kind]}" ${UF_KOPTS[$kind]} $UNIONFUSE_OPTS -o "lowerdir=$lowers,upperdir=$upper,workdir=$wd" "$mnt" >>"$LOG" 2>&1 ;;
	esac
	rc=$?
	if [ $rc -ne 0 ] || ! is_mounted "$mnt"; then
		log "mount $kind $mnt failed (rc=$rc)"
		if is_mounted "$mnt"; then
			find_pids "$kind" "$mnt"; do_umount "$mnt"
		else
			unset "MNT_KIND[$mnt]"
		fi
		return 1
	fi
	return 0
}

# find_pids KIND MNT... : fill MNT_PID for FUSE mounts
find_pids() {
	local kind=$1 m p; shift
	[ "$kind" = kernel ] && return 0
	while read -r m p; do
		MNT_PID[$m]=$p
	done < <("$H" pids "$(DAEMON_COMM "$kind")" "$@")
}

hwm_of() {   # prints VmHWM (kB) of the daemon behind MNT, or nothing
	local p=${MNT_PID[$1]:-}
	[ -n "$p" ] || return 0
	local v; v=$("$H" hwm "$p"); [ "$v" -ge 0 ] 2>/dev/null && echo "$v"
}

# do_umount MNT [nowait]
do_umount() {
	local mnt=$1 nowait=${2:-} kind=${MNT_KIND[$1]:-} pid=${MNT_PID[$1]:-} i
	[ -n "$kind" ] || return 0
	if is_mounted "$mnt"; then
		if [ "$kind" = kernel ]; then
			umount "$mnt" 2>>"$LOG" || { sleep 0.3; umount "$mnt" 2>>"$LOG"; } ||
				umount -l "$mnt" 2>>"$LOG"
		else
			fusermount3 -u "$mnt" 2>>"$LOG" || { sleep 0.3; fusermount3 -u "$mnt" 2>>"$LOG"; } ||
				fusermount3 -uz "$mnt" 2>>"$LOG"
		fi
	fi
	unset "MNT_KIND[$mnt]"
	[ -n "$nowait" ] && return 0
	reap "$mnt"
}
# alive PID: running and not a zombie (a daemonized FUSE server is reparented
# to init, which may take its time to reap it)
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}
# reap MNT: wait for the daemon we started for MNT to exit; kill it if stuck
reap() {
	local pid=${MNT_PID[$1]:-} i
	unset "MNT_PID[$1]"
	[ -n "$pid" ] || return 0
	for i in $(seq 500); do alive "$pid" || return 0; sleep 0.01; done
	log "daemon $pid for $1 did not exit; killing"
	kill "$pid" 2>/dev/null; sleep 0.5; kill -9 "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local m
	trap '' INT TERM
	for m in "${!MNT_KIND[@]}"; do do_umount "$m" nowait; done
	for m in "${!MNT_PID[@]}"; do reap "$m"; done
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	if [ "$KEEP" = 1 ]; then rm -rf "$RUN"; fi
	if [ "$FS_MOUNTED" = 1 ]; then
		umount "$FS" 2>>"$LOG" || { sleep 1; umount "$FS" 2>>"$LOG"; } || umount -l "$FS"
	fi
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>>"$LOG"
	[ -n "$URING_OLD" ] && echo "$URING_OLD" >"$URING_PARAM"
	[ "$KEEP" = 1 ] || rm -rf "$WORK"
}

# uf_probe KIND: mount the kind once in the foreground with -d on a tiny
# union, write and read a file, and note in UF_INFO what it runs with: the
# libfuse version, the FUSE protocol it speaks with this kernel, the
# transport, passthrough and KILLPRIV_V2, from its own log.
uf_probe() {
	local k=$1 b=$RUN/probe-$k pid i v lib proto kproto pt tr kp
	rm -rf "$b"; mkdir -p "$b/l" "$b/u" "$b/w" "$b/m"
	echo lower >"$b/l/f"
	v=$("${UF_BIN[$k]}" -V 2>&1)
	lib=$(echo "$v" | grep -o 'libfuse [0-9.]*' | head -n1)
	proto=$(echo "$v" | grep -o 'interface version [0-9.]*' | cut -d' ' -f3)
	# shellcheck disable=SC2086
	"${UF_BIN[$k]}" ${UF_KOPTS[$k]} $UNIONFUSE_OPTS -f -d -o "lowerdir=$b/l,upperdir=$b/u,workdir=$b/w" "$b/m" >"$b/d.log" 2>&1 &
	pid=$!
	for i in $(seq 200); do is_mounted "$b/m" && break; sleep 0.05; done
	{ cat "$b/m/f" && echo new >"$b/m/g" && cat "$b/m/g"; } >/dev/null 2>&1
	fusermount3 -u "$b/m" 2>>"$LOG"
	wait "$pid"
	kproto=$(grep -o 'FUSE protocol [0-9.]* (kernel)' "$b/d.log" | cut -d' ' -f3)
	# the protocol spoken is the older of the two
	[ -n "$kproto" ] && [ "$(printf '%s\n' "$proto" "$kproto" | sort -V | head -n1)" = "$kproto" ] && proto=$kproto
	pt=$(grep -o 'passthrough: [a-z]*' "$b/d.log" | head -n1 | cut -d' ' -f2)
	[ "$pt" = on ] && grep -q 'for files whose data is in the upper' "$b/d.log" && pt="on for upper files"
	tr=/dev/fuse
	grep -q 'FUSE over io_uring: on' "$b/d.log" && grep -q '^cqe unique' "$b/d.log" && tr=io_uring
	kp=$(grep -o 'handle_killpriv_v2: [a-z]*' "$b/d.log" | cut -d' ' -f2)
	UF_INFO[$k]="$lib, FUSE 7.${proto#7.} (kernel ${kproto:-?}), $tr, passthrough ${pt:-?}, killpriv_v2 ${kp:-off}; ${UF_BIN[$k]} ${UF_KOPTS[$k]}"
	log "probe $k: ${UF_INFO[$k]}"
	rm -rf "$b"
}

# setup_fs: a private ext4 on a loop device (direct I/O to the backing file),
# so results do not depend on the state of the host filesystem
setup_fs() {
	[ "$USE_LOOP" = 1 ] || { mkdir -p "$FS"; return 0; }
	local fresh=1
	[ "$REUSE" = 1 ] && [ -f "$IMG" ] && fresh=0
	if [ $fresh = 1 ]; then
		rm -f "$IMG"
		say "creating ${IMG_GIB}G ext4 scratch image $IMG"
		fallocate -l "${IMG_GIB}G" "$IMG" || { say "fallocate failed"; return 1; }
		mkfs.ext4 -q -F -i 16384 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$IMG" >>"$LOG" 2>&1 ||
			{ say "mkfs.ext4 failed"; return 1; }
	fi
	LOOPDEV=$(losetup --direct-io=on -f --show "$IMG" 2>>"$LOG") || { say "losetup failed"; LOOPDEV=""; return 1; }
	mkdir -p "$FS"
	mount -t ext4 "$LOOPDEV" "$FS" 2>>"$LOG" || { say "mounting $LOOPDEV failed"; return 1; }
	FS_MOUNTED=1
}
CHILD=""
on_signal() {
	say "interrupted; unmounting"
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && sleep 0.5
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || log "drop_caches failed"; }

# --------------------------------------------------------- data generation
DATA_ID="mode=$MODE tree=$TREE_N git=$GIT_N big=$BIG_L/$BIG_U/$BIG_WH file=$BIGFILE_MIB par=$PAR_MIB tar=$TAR_N rm=$RM_N sb=$SB_FILES depth=$DEPTH_B/$DEPTH_F build=$BUILD_N v3"

# need GROUP: true if GROUP's data must be generated now (selected, and not
# already present from a kept run with identical parameters)
need() {
	group_selected "$1" || return 1
	[ -f "$D/.done-$1" ] && [ "$(cat "$D/.done-$1")" = "$DATA_ID" ] && return 1
	say "  generating data for $1"
	return 0
}
done_gen() { echo "$DATA_ID" >"$D/.done-$1"; }

gen_data() {
	local t0=$SECONDS i b
	gcc -O2 -o "$H" "$BENCH/ufb-helper.c" || { echo "cannot build ufb-helper" >&2; exit 1; }
	[ "$REUSE" = 1 ] || rm -rf "$D"
	mkdir -p "$L" "$P"
	say "data in $D ($MODE)"
	if need meta; then
		rm -rf "$L/tree" "$L/git" "$P/git"
		"$H" tree "$L/tree" "$TREE_N" 100 64 t 1
		"$H" tree "$L/git" "$GIT_N" 50 -4096 g 2
		(cd "$L/git" && git init -q && git add -A &&
			git -c user.name=bench -c user.email=bench@localhost commit -qm init) >>"$LOG" 2>&1
		cp -a "$L/git" "$P/git"     # plain kind: git writes its index
		done_gen meta
	fi
	# big merged directory: lower names n000000.., upper names u000000..,
	# whiteouts hide every STEP-th lower name
	local step=$((BIG_L / BIG_WH))
	if need bigdir; then
		rm -rf "$L/big" "$D/utpl-big" "$D/utpl-big-unionfs" "$P/big"
		"$H" flat "$L/big" n 0 "$BIG_L" 16
		"$H" flat "$D/utpl-big/big" u 0 "$BIG_U" 16
		"$H" whiteout "$D/utpl-big/big" n 0 "$BIG_WH" "$step"
		"$H" flat "$D/utpl-big-unionfs/big" u 0 "$BIG_U" 16
		"$H" unionfs-whiteout "$D/utpl-big-unionfs/.unionfs-fuse/big" n 0 "$BIG_WH" "$step"
		"$H" flat "$P/big/big" u 0 "$BIG_U" 16
		"$H" flat "$P/big/big" n 0 "$BIG_L" 16 "$step"
		done_gen bigdir
	fi
	if { group_selected read || group_selected copyup; } &&
		[ "$(cat "$D/.done-bigfile" 2>/dev/null)" != "$DATA_ID" ]; then
		say "  generating data for read/copyup"
		mkdir -p "$L/data"
		"$H" bigfile "$L/data/big" "$BIGFILE_MIB" 4
		done_gen bigfile
	fi
	if need copyup; then
		for i in 0 1 2 3 4 5 6 7; do "$H" bigfile "$L/data/c$i" "$PAR_MIB" $((10 + i)); done
		done_gen copyup
	fi
	if need small; then
		rm -rf "$D/stage" "$L/rmtree"
		"$H" tree "$D/stage" "$TAR_N" 100 -8192 x 5
		tar -C "$D/stage" -cf "$D/small.tar" . && rm -rf "$D/stage"
		"$H" tree "$L/rmtree" "$RM_N" 100 512 r 6
		done_gen small
	fi
	if need sandbox; then
		rm -rf "$L/sbtree"
		"$H" tree "$L/sbtree" "$SB_FILES" 100 64 s 3
		done_gen sandbox
	fi
	if need depth; then
		rm -rf "$D/depth" "$P/depth"; mkdir -p "$P/depth"
		for ((i = 1; i <= DEPTH_B; i++)); do
			b=b$(printf %02d $i)
			"$H" tree "$D/depth/$b" "$DEPTH_F" 100 64 "$b" $((100 + i))
			cp -a "$D/depth/$b/." "$P/depth/"
		done
		done_gen depth
	fi
	if need build; then
		rm -rf "$L/proj"
		"$H" csrc "$L/proj" "$BUILD_N"
		(cd "$L/proj" && cc -O0 -o "$D/prog.ref" ./*.c) && "$D/prog.ref" >"$D/prog.out"
		done_gen build
	fi
	sync
	say "data ready after $((SECONDS - t0))s ($(du -sh "$D" 2>/dev/null | cut -f1))"
	EXP_TREE=- EXP_SB=- EXP_DEPTH=- EXP_BIG=- EXP_UNTAR=- EXP_PROG=-
	[ -d "$L/tree" ] && EXP_TREE=$("$H" walk "$L/tree")
	[ -d "$L/sbtree" ] && EXP_SB=$("$H" walk "$L/sbtree")
	[ -d "$P/depth" ] && EXP_DEPTH=$("$H" walk "$P/depth")
	[ -d "$P/big/big" ] && EXP_BIG=$(ls -f "$P/big/big" | wc -l)
	[ -f "$D/small.tar" ] && EXP_UNTAR=$(tar -tf "$D/small.tar" | grep -vc '^\./$')
	[ -f "$D/prog.out" ] && EXP_PROG=$(cat "$D/prog.out")
	LOWER_DEPTH=""
	for ((i = DEPTH_B; i >= 1; i--)); do LOWER_DEPTH+="${LOWER_DEPTH:+:}$D/depth/b$(printf %02d $i)"; done
	log "expected: tree=$EXP_TREE sbtree=$EXP_SB depth=$EXP_DEPTH big=$EXP_BIG untar=$EXP_UNTAR prog=$EXP_PROG"
	export L P D EXP_TREE EXP_SB EXP_DEPTH EXP_BIG EXP_UNTAR EXP_PROG BIGFILE_MIB RIO_N RW_MIB SEQW_MIB
}

# ------------------------------------------------------------ workload spec
# Each workload sets:
#   W_MODE    warm  : one mount; each timed run directly follows an untimed
#                     identical run (so FUSE cache timeouts cannot expire)
#             cold  : before every run remount + drop caches
#             fresh : every run gets a fresh upper and a fresh mount
#   W_LOWERS  lowers top-first (default $L)
#   W_UTPL    upper template dir copied into each fresh upper (optional);
#             W_UTPL_UNIONFS the same in unionfs-fuse's whiteout format
#   W_PLAIN   ro:DIR          plain kind runs in DIR (not modified)
#             copy:SUB,SUB..  plain kind gets a private copy of $L/SUB..
#             empty           plain kind gets an empty dir
#   W_PRE     untimed command before each timed run
#   W_CMD     timed command (bash -c; $M = merged root).  Exit 3 = wrong
#             result, output line "UFB_TIME s" overrides the wall time.
#   W_CHECK   untimed check after each run (non-zero = wrong result)
#   W_KINDS   restrict kinds (optional)
wl_spec() {
	W_MODE=warm W_LOWERS=$L W_UTPL="" W_UTPL_UNIONFS="" W_PLAIN="ro:$L"
	W_PRE="" W_CMD="" W_CHECK="" W_KINDS=""
	local fio_common="--ioengine=psync --bs=4k --norandommap --randrepeat=0 --invalidate=0 --output-format=terse --terse-version=3 --group_reporting"
	case $1 in
	walk-warm|walk-cold)
		W_MODE=${1#walk-}
		W_CMD='n=$($H walk "$M/tree") || exit 1; [ "$n" = "$EXP_TREE" ] || { echo "walk: $n != $EXP_TREE" >&2; exit 3; }' ;;
	lsR-warm)
		W_CMD='ls -lR "$M/tree" >/dev/null' ;;
	git-status)
		W_PLAIN="ro:$P"
		W_CMD='out=$(git -c safe.directory="*" -C "$M/git" status --porcelain) || exit 1; [ -z "$out" ] || { echo "git status not clean: ${out:0:200}" >&2; exit 3; }' ;;
	bigdir-lsf)
		W_UTPL=$D/utpl-big W_UTPL_UNIONFS=$D/utpl-big-unionfs W_PLAIN="ro:$P/big"
		W_CMD='n=$(ls -f "$M/big" | wc -l); [ "$n" = "$EXP_BIG" ] || { echo "ls -f: $n != $EXP_BIG" >&2; exit 3; }' ;;
	bigdir-lsl)
		W_UTPL=$D/utpl-big W_UTPL_UNIONFS=$D/utpl-big-unionfs W_PLAIN="ro:$P/big"
		W_CMD='ls -l "$M/big" >/dev/null' ;;
	seqread-cold|seqread-warm)
		W_MODE=${1#seqread-}
		W_CMD='dd if="$M/data/big" of=/dev/null bs=1M status=none' ;;
	randread)
		W_PRE='cat "$L/data/big" >/dev/null'
		W_CMD="out=\$(fio --name=rr --filename=\"\$M/data/big\" --readonly --rw=randread --size=\${BIGFILE_MIB}m --number_ios=\$RIO_N --runtime=\$((RIO_N/100+30)) $fio_common) || exit 1
			iops=\$(echo \"\$out\" | tail -1 | cut -d';' -f8); echo \"fio read iops \$iops\" >&2
			awk -v i=\"\$iops\" -v n=\$RIO_N 'BEGIN{ if (i<=0) exit 1; printf \"UFB_TIME %.6f\\n\", n/i }'" ;;
	seqwrite)
		W_MODE=fresh W_PLAIN=empty
		W_CMD='dd if=/dev/zero of="$M/seqw" bs=1M count=$SEQW_MIB conv=fsync status=none'
		W_CHECK='[ "$(stat -c %s "$M/seqw")" = $((SEQW_MIB << 20)) ]' ;;
	randwrite)
		W_MODE=fresh W_PLAIN=empty
		W_CMD="out=\$(fio --name=rw --filename=\"\$M/randw\" --rw=randwrite --size=\${RW_MIB}m --number_ios=\$RIO_N --runtime=\$((RIO_N/100+30)) $fio_common) || exit 1
			iops=\$(echo \"\$out\" | tail -1 | cut -d';' -f49); echo \"fio write iops \$iops\" >&2
			awk -v i=\"\$iops\" -v n=\$RIO_N 'BEGIN{ if (i<=0) exit 1; printf \"UFB_TIME %.6f\\n\", n/i }'" ;;
	copyup-1byte)
		W_MODE=fresh W_PLAIN="copy:data/big"
		W_PRE='cat "$L/data/big" >/dev/null'
		W_CMD='dd if=/dev/zero of="$M/data/big" bs=1 count=1 conv=notrunc status=none && sync'
		W_CHECK='[ "$(stat -c %s "$M/data/big")" = $((BIGFILE_MIB << 20)) ] && [ "$(head -c1 "$M/data/big" | od -An -tu1 | tr -d " ")" = 0 ] && ! cmp -s "$M/data/big" "$L/data/big"' ;;
	copyup-chmod)
		W_MODE=fresh W_PLAIN="copy:data/big"
		W_PRE='cat "$L/data/big" >/dev/null'
		W_CMD='chmod 600 "$M/data/big" && sync'
		W_CHECK='[ "$(stat -c %a:%s "$M/data/big")" = 600:$((BIGFILE_MIB << 20)) ] && [ "$(stat -c %a "$L/data/big")" = 644 ] && cmp -s "$M/data/big" "$L/data/big"' ;;
	copyup-par8)
		W_MODE=fresh W_PLAIN="copy:data/c0,data/c1,data/c2,data/c3,data/c4,data/c5,data/c6,data/c7"
		W_PRE='cat "$L"/data/c? >/dev/null'
		W_CMD='pids=""; for i in 0 1 2 3 4 5 6 7; do dd if=/dev/zero of="$M/data/c$i" bs=1 count=1 conv=notrunc status=none & pids+=" $!"; done
			rc=0; for p in $pids; do wait $p || rc=1; done; sync; exit $rc'
		W_CHECK='for i in 0 1 2 3 4 5 6 7; do cmp -s "$M/data/c$i" "$L/data/c$i" && exit 1; [ "$(stat -c %s "$M/data/c$i")" = "$(stat -c %s "$L/data/c$i")" ] || exit 1; done; exit 0' ;;
	untar)
		W_MODE=fresh W_PLAIN=empty
		W_CMD='mkdir "$M/untar" && tar -xf "$D/small.tar" -C "$M/untar" && sync'
		W_CHECK='[ "$($H walk "$M/untar")" = "$EXP_UNTAR" ]' ;;
	rmrf)
		W_MODE=fresh W_PLAIN="copy:rmtree"
		W_CMD='rm -rf "$M/rmtree" && sync'
		W_CHECK='[ ! -e "$M/rmtree" ] && ! ls -A "$M" | grep -qx rmtree' ;;
	depth-walk)
		W_LOWERS=$LOWER_DEPTH W_PLAIN="ro:$P/depth"
		W_CMD='n=$($H walk "$M") || exit 1; [ "$n" = "$EXP_DEPTH" ] || { echo "walk: $n != $EXP_DEPTH" >&2; exit 3; }' ;;
	build)
		W_MODE=fresh W_PLAIN="copy:proj"
		W_CMD='make -C "$M/proj" -j2 -s >/dev/null'
		W_CHECK='[ "$("$M/proj/prog")" = "$EXP_PROG" ]' ;;
	*) return 1 ;;
	esac
}

# ------------------------------------------------------------------ engine
declare -A RES_T=() RES_R=()
T=0 RC=0

# timed CMD : runs CMD with M exported; sets T and RC (0 ok, 3 wrong, else fail)
timed() {
	local t0 t1 out=$RUN/out.txt
	t0=$(date +%s.%N)
	timeout -k 10 "$TMO" bash -c "$1" >"$out" 2>>"$LOG" </dev/null &
	CHILD=$!
	wait "$CHILD"; RC=$?
	CHILD=""
	t1=$(date +%s.%N)
	T=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}')
	if grep -q '^UFB_TIME ' "$out"; then T=$(awk '/^UFB_TIME /{print $2}' "$out" | tail -1); fi
	[ "$RC" = 124 ] && log "timeout after ${TMO}s"
	return 0
}
untimed() {
	timeout -k 10 "$TMO" bash -c "$1" >>"$LOG" 2>&1 </dev/null &
	CHILD=$!
	wait "$CHILD"; local rc=$?
	CHILD=""
	return $rc
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{ if (NR==0) exit; if (NR%2) printf "%.6f", a[(NR+1)/2]; else printf "%.6f", (a[NR/2]+a[NR/2+1])/2 }'; }
maxof() { local m=0 v; for v in "$@"; do [ "$v" -gt "$m" ] && m=$v; done; echo "$m"; }

# plain_view RUNDIR : sets M for the plain kind
plain_view() {
	local s
	case $W_PLAIN in
	ro:*) M=${W_PLAIN#ro:} ;;
	empty) M=$1; rm -rf "$M"; mkdir -p "$M" ;;
	copy:*)
		M=$1; rm -rf "$M"; mkdir -p "$M"
		local IFS=,
		for s in ${W_PLAIN#copy:}; do
			mkdir -p "$(dirname "$M/$s")"; cp -a "$L/$s" "$M/$s" || return 1
		done ;;
	esac
	return 0
}

# fresh_layers KIND TAG : new upper/work/mnt under $RUN; sets U WD MNT
fresh_layers() {
	local base=$RUN/$2
	rm -rf "$base"; mkdir -p "$base/u" "$base/w" "$base/m"
	U=$base/u WD=$base/w MNT=$base/m
	local tpl=$W_UTPL
	[ "$1" = unionfs-fuse ] && [ -n "$W_UTPL_UNIONFS" ] && tpl=$W_UTPL_UNIONFS
	if [ -n "$tpl" ]; then cp -a "$tpl/." "$U/" || return 1; fi
	return 0
}

# bench_workload WL : runs WL for every kind, interleaved: each round runs
# every kind once (the order rotates from round to round), so background
# noise spreads evenly over the kinds.  Stores RES_T/RES_R.
declare -A K_ST=() K_T=() K_RSS=() K_M=() K_U=() K_W=() K_START=()
bench_workload() {
	local wl=$1 k r i n kinds=() order
	wl_spec "$wl"
	for k in $KINDS; do
		if [ -n "$W_KINDS" ] && [[ " $W_KINDS " != *" $k "* ]]; then RES_T[$wl|$k]="-"; continue; fi
		kinds+=("$k")
		K_ST[$k]=ok K_T[$k]="" K_RSS[$k]="" K_START[$k]=$SECONDS
	done
	n=${#kinds[@]}
	export M
	# mount once for warm and cold modes
	if [ "$W_MODE" != fresh ]; then
		for k in "${kinds[@]}"; do
			if [ "$k" = plain ]; then
				plain_view "$RUN/$k.$wl" || K_ST[$k]=FAIL
				K_M[$k]=$M
			elif fresh_layers "$k" "$k.$wl" && do_mount "$k" "$W_LOWERS" "$U" "$WD" "$MNT"; then
				find_pids "$k" "$MNT"
				K_M[$k]=$MNT K_U[$k]=$U K_W[$k]=$WD
			else
				K_ST[$k]=FAIL
			fi
		done
	fi
	for ((r = 1; r <= RUNS; r++)); do
		for ((i = 0; i < n; i++)); do
			k=${kinds[$(((i + r - 1) % n))]}
			[ "${K_ST[$k]}" = ok ] || continue
			case $W_MODE in
			warm) run_one "$k" warmup && run_one "$k" "$r" ;;
			cold)
				if [ "$k" != plain ]; then
					do_umount "${K_M[$k]}"; drop_caches
					if ! do_mount "$k" "$W_LOWERS" "${K_U[$k]}" "${K_W[$k]}" "${K_M[$k]}"; then
						K_ST[$k]=FAIL; continue
					fi
					find_pids "$k" "${K_M[$k]}"
				else
					drop_caches
				fi
				run_one "$k" "$r" ;;
			fresh)
				if [ "$k" = plain ]; then
					plain_view "$RUN/$k.$wl" || { K_ST[$k]=FAIL; continue; }
					K_M[$k]=$M
					run_one "$k" "$r"
				else
					if ! { fresh_layers "$k" "$k.$wl" && do_mount "$k" "$W_LOWERS" "$U" "$WD" "$MNT"; }; then
						K_ST[$k]=FAIL; continue
					fi
					find_pids "$k" "$MNT"
					K_M[$k]=$MNT
					run_one "$k" "$r"
					do_umount "$MNT"
				fi
				rm -rf "${RUN:?}/$k.$wl" ;;
			esac
		done
	done
	for k in "${kinds[@]}"; do
		[ "$k" != plain ] && [ -n "${K_M[$k]:-}" ] && do_umount "${K_M[$k]}"
		rm -rf "${RUN:?}/$k.$wl"
		if [ "${K_ST[$k]}" = ok ]; then
			RES_T[$wl|$k]=$(echo "${K_T[$k]}" | median)
			[ -n "${RES_T[$wl|$k]}" ] || RES_T[$wl|$k]=FAIL
		else
			RES_T[$wl|$k]=${K_ST[$k]}
		fi
		# shellcheck disable=SC2086
		[ -n "${K_RSS[$k]}" ] && RES_R[$wl|$k]=$(maxof ${K_RSS[$k]})
		log "CELL $k $wl ${RES_T[$wl|$k]} rss=${RES_R[$wl|$k]:-} times=${K_T[$k]}"
		say "$(printf '%-16s %-15s %-10s rss=%-8s' "$wl" "$k" "$(fmt_t "${RES_T[$wl|$k]}")" "${RES_R[$wl|$k]:--}")"
		unset "K_M[$k]" "K_U[$k]" "K_W[$k]"
	done
}

# run_one KIND RUN : one timed run of $W_CMD in ${K_M[KIND]} + bookkeeping
run_one() {
	local k=$1 h
	[ "${K_ST[$k]}" = ok ] || return 1
	M=${K_M[$k]}
	[ -n "$W_PRE" ] && untimed "$W_PRE"
	sync
	timed "$W_CMD"
	log "RUN $k $wl $2 t=$T rc=$RC"
	if [ "$RC" = 3 ]; then K_ST[$k]=WRONG; return 1; fi
	if [ "$RC" != 0 ]; then K_ST[$k]=FAIL; return 1; fi
	if [ "$k" != plain ]; then h=$(hwm_of "$M"); [ -n "$h" ] && K_RSS[$k]+=" $h"; fi
	if [ -n "$W_CHECK" ] && ! untimed "$W_CHECK"; then
		log "RUN $k $wl $2: check failed: $W_CHECK"; K_ST[$k]=WRONG; return 1
	fi
	[ "$2" = warmup ] || K_T[$k]+=" $T"
	return 0
}

# ------------------------------------------------------------- sandboxes
# For each run: bring up SB_N mounts of $L with fresh uppers (timed), read
# idle RSS, walk SB_PAR of them at once (timed), walk the other SB_N-SB_PAR
# one after another (timed), read RSS, tear all down (timed).
bench_sandbox() {
	local kind=$1 r i status=ok mnts=() ups=() wds=() h
	local t_up="" t_seq="" t_par="" t_down="" rss_idle=() rss_walk=()
	W_MODE=warm W_PLAIN="ro:$L"
	local base=$RUN/sb-$kind
	export M
	for ((r = 1; r <= RUNS; r++)); do
		[ $status = ok ] || break
		rm -rf "$base"; mnts=()
		for ((i = 0; i < SB_N; i++)); do
			mnts+=("$base/m$(printf %03d $i)")
			mkdir -p "$base/m$(printf %03d $i)" "$base/u$(printf %03d $i)" "$base/w$(printf %03d $i)"
		done
		sync
		if [ "$kind" != plain ]; then
			local t0 t1; t0=$(date +%s.%N)
			for ((i = 0; i < SB_N; i++)); do
				do_mount "$kind" "$L" "$base/u$(printf %03d $i)" "$base/w$(printf %03d $i)" "${mnts[$i]}" ||
					{ status=FAIL; break; }
			done
			t1=$(date +%s.%N)
			[ $status = ok ] || break
			t_up+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}')"
			find_pids "$kind" "${mnts[@]}"
			sleep 0.2
			for m in "${mnts[@]}"; do h=$(hwm_of "$m"); [ -n "$h" ] && rss_idle+=("$h"); done
		else
			for ((i = 0; i < SB_N; i++)); do mnts[$i]=$L; done
		fi
		# parallel walk of the first SB_PAR mounts
		local script='rc=0; pids=""; for m in '
		for ((i = 0; i < SB_PAR; i++)); do script+=" '${mnts[$i]}'"; done
		script+='; do ( n=$($H walk "$m/sbtree") || exit 1; [ "$n" = "$EXP_SB" ] || { echo "walk $m: $n != $EXP_SB" >&2; exit 3; } ) & pids+=" $!"; done
			for p in $pids; do wait $p || rc=$?; done; exit $rc'
		timed "$script"; log "RUN $kind sandbox-parwalk $r t=$T rc=$RC"
		[ "$RC" = 0 ] || { status=$([ "$RC" = 3 ] && echo WRONG || echo FAIL); }
		t_par+=" $T"
		# sequential walk of the rest
		if [ $status = ok ] && [ "$SB_N" -gt "$SB_PAR" ]; then
			script='for m in '
			for ((i = SB_PAR; i < SB_N; i++)); do script+=" '${mnts[$i]}'"; done
			script+='; do n=$($H walk "$m/sbtree") || exit 1; [ "$n" = "$EXP_SB" ] || { echo "walk $m: $n != $EXP_SB" >&2; exit 3; }; done'
			timed "$script"; log "RUN $kind sandbox-walk $r t=$T rc=$RC"
			[ "$RC" = 0 ] || { status=$([ "$RC" = 3 ] && echo WRONG || echo FAIL); }
			t_seq+=" $T"
		fi
		if [ "$kind" != plain ]; then
			for m in "${mnts[@]}"; do h=$(hwm_of "$m"); [ -n "$h" ] && rss_walk+=("$h"); done
			t0=$(date +%s.%N)
			for m in "${mnts[@]}"; do do_umount "$m" nowait; done
			for m in "${mnts[@]}"; do reap "$m"; done
			t1=$(date +%s.%N)
			t_down+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}')"
		fi
		rm -rf "$base"
	done
	# tear down anything left from a failed run
	for m in "${mnts[@]}"; do [ -n "${MNT_KIND[$m]:-}" ] && do_umount "$m"; done
	rm -rf "$base"
	local mean_idle="" mean_walk=""
	[ ${#rss_idle[@]} -gt 0 ] && mean_idle=$(printf '%s\n' "${rss_idle[@]}" | awk '{s+=$1} END{printf "%d", s/NR}')
	[ ${#rss_walk[@]} -gt 0 ] && mean_walk=$(printf '%s\n' "${rss_walk[@]}" | awk '{s+=$1} END{printf "%d", s/NR}')
	set_sb() {  # WL TIMES RSS
		wl_selected "$1" || return 0
		if [ "$kind" = plain ] && [[ $1 == sandbox-up || $1 == sandbox-down ]]; then RES_T[$1|$kind]="-"; return; fi
		if [ $status != ok ]; then RES_T[$1|$kind]=$status
		elif [ -z "$2" ]; then RES_T[$1|$kind]="-"
		else RES_T[$1|$kind]=$(echo "$2" | median); fi
		[ -n "$3" ] && RES_R[$1|$kind]=$3
		log "CELL $kind $1 ${RES_T[$1|$kind]} rss=$3 times=$2"
		say "$(printf '%-16s %-15s %-10s rss=%-8s' "$1" "$kind" "$(fmt_t "${RES_T[$1|$kind]}")" "${3:--}")"
	}
	set_sb sandbox-up "$t_up" "$mean_idle"
	set_sb sandbox-parwalk "$t_par" "$mean_walk"
	set_sb sandbox-walk "$t_seq" "$mean_walk"
	set_sb sandbox-down "$t_down" "$mean_walk"
}

# ------------------------------------------------------------------ report
fmt_t() { # seconds -> short string
	case $1 in FAIL|WRONG|-|"") echo "${1:--}" ;; *) awk -v t="$1" 'BEGIN{ if (t>=100) printf "%.0f", t; else if (t>=10) printf "%.1f", t; else if (t>=1) printf "%.2f", t; else printf "%.3f", t }' ;; esac
}
ratio_of() { # WL KIND
	local k=${RES_T[$1|kernel]:-} v=${RES_T[$1|$2]:-}
	[[ $k =~ ^[0-9.]+$ && $v =~ ^[0-9.]+$ ]] || { echo "-"; return; }
	awk -v a="$v" -v b="$k" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }'
}
fmt_rss() { [ -n "$1" ] && awk -v k="$1" 'BEGIN{ if (k>=10240) printf "%.0fM", k/1024; else printf "%.1fM", k/1024 }'; }

report() {
	local wl k cell line
	{
		printf 'kind\tworkload\tmedian_s\tratio_to_kernel\trss_kib\n'
		for wl in $SEL_WL; do for k in $KINDS; do
			[ -n "${RES_T[$wl|$k]:-}" ] || continue
			printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$wl" "${RES_T[$wl|$k]}" "$(ratio_of "$wl" "$k")" "${RES_R[$wl|$k]:--}"
		done; done
	} >"$TSV"
	echo
	echo "unionfuse benchmark, mode=$MODE, runs=$RUNS, $(date '+%F %T'), $(uname -r), $(nproc) cpus"
	echo "loadavg at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg); scratch: $([ "$USE_LOOP" = 1 ] && echo "ext4 on loop ($IMG)" || echo "$FS")"
	[ -n "$UF_VERSION" ] && echo "$UF_VERSION"
	echo "timing overhead included in every wall-clock cell: $(awk -v t="$T_OVERHEAD" 'BEGIN{printf "%.1f ms", t*1000}')"
	echo "cells: median seconds, ratio to kernel overlayfs (x), peak daemon RSS (VmHWM; sandbox rows: mean per daemon)"
	line=$(printf '%-16s' workload)
	for k in $KINDS; do line+=$(printf ' | %-22s' "$k"); done
	echo "$line"
	line=$(printf '%-16s' "" | tr ' ' '-')
	for k in $KINDS; do line+="-+-$(printf '%-22s' "" | tr ' ' '-')"; done
	echo "$line"
	for wl in $SEL_WL; do
		line=$(printf '%-16s' "$wl")
		for k in $KINDS; do
			local t=${RES_T[$wl|$k]:-}
			cell=$(fmt_t "$t")
			if [[ $t =~ ^[0-9.]+$ ]] && [ "$k" != kernel ]; then
				local rt; rt=$(ratio_of "$wl" "$k"); [ "$rt" != - ] && cell+=$(printf ' %6sx' "$rt")
			fi
			[ -n "${RES_R[$wl|$k]:-}" ] && cell+="  $(fmt_rss "${RES_R[$wl|$k]}")"
			line+=$(printf ' | %-22s' "$cell")
		done
		echo "$line"
	done
	for k in $KINDS; do
		[ -n "${UF_INFO[$k]:-}" ] && echo "$k: ${UF_INFO[$k]}"
	done
	for k in $ALL_KINDS; do
		[ -n "${SKIPWHY[$k]:-}" ] && echo "skipped $k: ${SKIPWHY[$k]}"
	done
	echo "TSV: $TSV"
	echo "log: $LOG"
}

# -------------------------------------------------------------------- main
say "unionfuse bench: mode=$MODE runs=$RUNS kinds='$KINDS' workloads='${SEL_WL# }'"
for k in $ALL_KINDS; do [ -n "${SKIPWHY[$k]:-}" ] && say "  skipping $k: ${SKIPWHY[$k]}"; done
[ "$(id -u)" = 0 ] || say "  warning: not root, cannot drop caches (cold runs are warm)"
if ! setup_fs; then
	say "loop scratch filesystem unavailable; using $WORK directly"
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV"; LOOPDEV=""
	USE_LOOP=0 FS=$WORK D=$WORK/data L=$WORK/data/lower P=$WORK/data/plain RUN=$WORK/run
fi
rm -rf "$RUN"; mkdir -p "$RUN"
UF_VERSION=""
if [[ " $KINDS " == *" unionfuse-uring "* ]]; then
	URING_OLD=$(cat "$URING_PARAM")
	echo 1 >"$URING_PARAM"
fi
for k in $KINDS; do
	is_uf "$k" || continue
	# benchmark a snapshot, so a rebuild during the run cannot break it
	mkdir -p "$WORK/bin"
	[ -n "$UF_VERSION" ] ||
		UF_VERSION="unionfuse $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?') built $(date -r "${UF_BIN[$k]}" '+%F %T')"
	cp "${UF_BIN[$k]}" "$WORK/bin/$k" || { echo "cannot copy ${UF_BIN[$k]}" >&2; exit 1; }
	UF_BIN[$k]=$WORK/bin/$k
	uf_probe "$k"
	say "  $k: ${UF_INFO[$k]}"
done
[ -n "$UF_VERSION" ] && say "  $UF_VERSION"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
gen_data
# what the timing itself costs (fork+exec of timeout and bash -c)
tt=""; for i in 1 2 3 4 5; do timed true; tt+=" $T"; done
T_OVERHEAD=$(echo "$tt" | median)
log "timing overhead: $tt"
T_ALL=$SECONDS
SB_DONE=0
for wl in $SEL_WL; do
	case $wl in
	sandbox-*)
		[ $SB_DONE = 1 ] && continue
		SB_DONE=1
		for k in $KINDS; do bench_sandbox "$k"; done ;;
	*)
		bench_workload "$wl" ;;
	esac
done
say "benchmarks took $((SECONDS - T_ALL))s"
report | tee -a "$LOG"
