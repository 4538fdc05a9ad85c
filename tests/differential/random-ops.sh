#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Seeded random differential test: kernel overlayfs (the oracle) vs. unionfuse.
#
#   random-ops.sh UNIONFUSE_BIN [SEEDS] [NOPS]
#
#   UNIONFUSE_BIN  path of the daemon, or the word "kernel" to run the kernel
#                  overlayfs on both sides (determinism self-test).
#   SEEDS          "N", "A-B" or "A,B,C" (default 1-5)
#   NOPS           operations per seed (default 2000)
#
# Environment:
#   FSOPS              fsops binary (default: compiled from fsops.c beside
#                      this script into the temporary directory)
#   UF_DIFF_OPS        overrides NOPS (bigger runs on demand)
#   UF_DIFF_SEEDS      overrides SEEDS
#   UF_DIFF_KEEP       1: keep the work directory; 0: remove it even on failure
#                      (default: keep on failure only)
#   UF_DIFF_TMP        where to create the work directory (default $TMPDIR, /tmp)
#   UF_DIFF_TIMEOUT    seconds allowed for one fsops run (default 120)
#   UF_DIFF_CONTEXT    log lines shown before the first difference (default 8)
#   UF_DIFF_KOPTS      kernel overlayfs options (default
#                      redirect_dir=on,metacopy=on)
#   UNIONFUSE_ARGS     extra daemon options (default "-o timeout=0", with
#                      UF_DIFF_USERS=1 "-o allow_other,timeout=0")
#   UF_DIFF_USERS      1: several users. Creates ufsec-alice and ufsec-bob
#                      (useradd, if missing; alice is also in bob's group),
#                      runs half the operations as them (FSOPS_USERS, see
#                      fsops.c) with setuid/setgid modes, and gives the
#                      initial tree world-writable dirs, setuid/setgid files
#                      of root and of alice, a setgid dir and a file with
#                      security.capability
#   UF_DIFF_ALLOW_NONFUSE  1: accept a non-FUSE mount from UNIONFUSE_BIN (for
#                      testing this script with a fake daemon)
#   UF_DIFF_REDUCE     1: shrink each failing seed's operation sequence to a
#                      small reproducer (ddmin; UF_DIFF_REDUCE_MAX trials,
#                      default 400) and print it
#
# For each seed: build identical branches (two lowers and an upper with a
# fixed initial tree containing whiteouts and opaque dirs in overlayfs
# format), copy them twice, run "fsops SEED NOPS" on
#   mount -t overlay overlay -o lowerdir=L2:L1,upperdir=U,workdir=W,redirect_dir=on,metacopy=on
# and on
#   UNIONFUSE_BIN -f -o timeout=0 L1:L2:U MNT      (bottom-first order)
# and require
#   1. identical operation logs (first differing lines are shown);
#   2. identical canonical listings of both merged views;
#   3. the lower branches unchanged (exhaustive listing incl. inode, ctime,
#      all xattrs, before and after);
#   4. the kernel overlayfs mounted on unionfuse's branches afterwards shows
#      the same tree as unionfuse did (on-disk format compatibility).
# The kernel runs with redirect_dir=on so that renaming directories that
# exist in a lower succeeds there as it does in unionfuse (with the default
# redirect_dir=off it returns EXDEV), and with metacopy=on so that it reads
# unionfuse's metadata-only copy-ups (with metacopy=off it refuses them with
# EPERM).  The only difference tolerated is the ext4 artefact described at
# log_compare(), and it is printed when it is tolerated.
#
# Exit: 0 pass, 1 fail, 77 skip (not root, no /dev/fuse, no overlayfs);
# with CI=true a skip is reported as a failure.

set -u

here=$(cd "$(dirname "$0")" && pwd)

usage() {
	echo "usage: $0 UNIONFUSE_BIN|kernel [SEEDS] [NOPS]" >&2
	exit 2
}

skip() {
	echo "SKIP: $*"
	if [ "${CI:-}" = true ]; then
		echo "FAIL: CI=true and the differential test cannot run: $*"
		exit 1
	fi
	exit 77
}

[ $# -ge 1 ] && [ $# -le 3 ] || usage
UF_BIN=$1
SEEDS=${UF_DIFF_SEEDS:-${2:-1-5}}
NOPS=${UF_DIFF_OPS:-${3:-2000}}
TIMEOUT=${UF_DIFF_TIMEOUT:-120}
CONTEXT=${UF_DIFF_CONTEXT:-8}
# kernel features matching unionfuse's on-disk format (redirects for
# renamed dirs, metacopy for metadata-only copy-up)
KOPTS=${UF_DIFF_KOPTS:-redirect_dir=on,metacopy=on}
USERS=${UF_DIFF_USERS:-0}
# unionfuse's metacopy follows the kernel's (off unless asked for)
MC_ARGS=()
case ,$KOPTS, in *,metacopy=on,*) MC_ARGS=(-o metacopy=on) ;; esac
if [ "$USERS" = 1 ]; then
	read -r -a UF_ARGS <<<"${UNIONFUSE_ARGS:--o allow_other,timeout=0}"
else
	read -r -a UF_ARGS <<<"${UNIONFUSE_ARGS:--o timeout=0}"
fi

[ "$(id -u)" = 0 ] || skip "needs root (mount -t overlay)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
if ! grep -qw overlay /proc/filesystems; then
	modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems || skip "kernel has no overlayfs"
fi
for t in setfattr mknod timeout mountpoint; do
	command -v $t >/dev/null || skip "missing tool $t"
done
if [ "$USERS" = 1 ]; then
	for u in ufsec-alice ufsec-bob; do
		id -u "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u" ||
			skip "cannot create user $u"
	done
	AU=$(id -u ufsec-alice) AG=$(id -g ufsec-alice)
	BU=$(id -u ufsec-bob) BG=$(id -g ufsec-bob)
	export FSOPS_USERS="$AU:$AG:$BG,$BU:$BG"
fi
if [ "$UF_BIN" != kernel ] && [ ! -x "$UF_BIN" ]; then
	echo "FAIL: daemon binary $UF_BIN is not executable"
	exit 1
fi

case $SEEDS in
*-*) seed_list=$(seq "${SEEDS%-*}" "${SEEDS#*-}") ;;
*) seed_list=${SEEDS//,/ } ;;
esac

work=$(mktemp -d "${UF_DIFF_TMP:-${TMPDIR:-/tmp}}/uf-diff.XXXXXX") || exit 1

# ----------------------------------------------------------------- cleanup
# Only what this script mounted / started is unmounted / killed.
mounted=()
daemon_pid=

fuse_abort() { # abort the FUSE connection of mount point $1 (hung daemon)
	local dev
	# not stat(1): it would block on a hung mount
	dev=$(awk -v m="$1" '$5 == m { print $3 }' /proc/self/mountinfo | tail -n 1)
	[ -n "$dev" ] && [ -w "/sys/fs/fuse/connections/${dev#*:}/abort" ] &&
		echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort"
}

do_umount() { # $1 mount point
	local m=$1 i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		mountpoint -q "$m" || break
		umount "$m" 2>/dev/null && break
		sleep 0.3
	done
	if mountpoint -q "$m"; then
		echo "WARN: $m busy, lazy unmount"
		umount -l "$m"
	fi
	local keep=()
	for i in "${mounted[@]}"; do [ "$i" = "$m" ] || keep+=("$i"); done
	mounted=("${keep[@]}")
}

stop_daemon() {
	[ -n "$daemon_pid" ] || return 0
	local i
	for i in $(seq 50); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		echo "WARN: daemon $daemon_pid did not exit after unmount, killing it"
		kill -9 "$daemon_pid"
	fi
	wait "$daemon_pid" 2>/dev/null
	daemon_status=$?
	daemon_pid=
}

cleanup() {
	local m
	for m in "${mounted[@]}"; do
		grep -q " $m " /proc/self/mountinfo || continue
		umount "$m" 2>/dev/null && continue
		fuse_abort "$m"
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	mounted=()
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		sleep 0.2
		kill -9 "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
}
trap 'cleanup; exit 1' INT TERM
trap cleanup EXIT

# ------------------------------------------------------------------ fsops
FSOPS=${FSOPS:-}
if [ -z "$FSOPS" ]; then
	FSOPS=$work/fsops
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -o "$FSOPS" "$here/fsops.c" || {
		echo "FAIL: cannot build fsops"
		exit 1
	}
fi

# -------------------------------------------------------- initial branches
# L1 is the bottom lower, L2 the lower above it, U the upper.  Whiteouts
# (char 0:0) and opaque dirs (trusted.overlay.opaque=y) use the overlayfs
# on-disk format.  Names come from the pool a..h that fsops draws from.
make_branches() { # $1 dir, $2 prepopulate upper (0/1)
	local L1=$1/l1 L2=$1/l2 U=$1/u
	mkdir -p "$L1" "$L2" "$U" || return 1
	(
		set -e
		# --- L1 (bottom)
		mkdir -p "$L1/a/c" "$L1/d" "$L1/e" "$L1/h/h"
		printf 'hello a/b\n' >"$L1/a/b"
		printf 'deep file a/c/d\n' >"$L1/a/c/d"
		chmod 0640 "$L1/a/c/d"
		ln -s b "$L1/a/e"
		yes 'lower one file b, 3000 bytes' | head -c 3000 >"$L1/b"
		setfattr -n user.x0 -v foo "$L1/b"
		printf 'c from L1, whited out in L2\n' >"$L1/c"
		printf 'd/a\n' >"$L1/d/a"
		printf 'd/b\n' >"$L1/d/b"
		chown 1000:1000 "$L1/d/b"
		printf 'e/f\n' >"$L1/e/f"
		setfattr -n user.x1 -v bar "$L1/e"
		ln -s a "$L1/f"
		printf 'hard linked g\n' >"$L1/g"
		ln "$L1/g" "$L1/a/g"
		printf 'h/h/a\n' >"$L1/h/h/a"
		chmod 0700 "$L1/h/h"
		# --- L2 (upper lower)
		mkdir -p "$L2/a/c" "$L2/d" "$L2/e" "$L2/h"
		chmod 0750 "$L2/a"
		printf 'a/f from L2\n' >"$L2/a/f"
		printf 'a/c/e from L2\n' >"$L2/a/c/e"
		setfattr -n user.x2 -v baz "$L2/a/c/e"
		mknod "$L2/c" c 0 0 # whiteout of L1's c
		mknod "$L2/e/f" c 0 0 # whiteout of L1's e/f
		setfattr -n trusted.overlay.opaque -v y "$L2/d" # hides d/a d/b
		printf 'd/c from L2\n' >"$L2/d/c"
		ln -s ../b "$L2/e/g"
		mkfifo "$L2/e/h"
		printf 'h/b from L2\n' >"$L2/h/b"
		chown 1000:100 "$L2/h/b"
		chmod 0600 "$L2/h/b"
		yes 'L2 a/d' | head -c 70000 >"$L2/a/d"
		if [ "$2" = 1 ]; then
			# --- U prepopulated, as left by an earlier mount
			mkdir -p "$U/a" "$U/e"
			printf 'a/h in upper\n' >"$U/a/h"
			mknod "$U/a/b" c 0 0 # whiteout of a/b
			setfattr -n trusted.overlay.opaque -v y "$U/e"
			printf 'e/a in opaque upper e\n' >"$U/e/a"
			printf 'b replaced in upper\n' >"$U/b"
			ln -s /a/c "$U/a/e" # replaces L1's symlink a/e
		fi
		if [ "$USERS" = 1 ]; then
			# --- several users: room to write, and privileged files
			chmod 0777 "$L1" "$L2" "$U"
			chmod 1777 "$L2/a" "$L2/e"
			chmod 06777 "$L1/b"                     # root's, writable by all
			chown "0:$BG" "$L1/a/c/d" "$L2/d/c" "$L2/h"
			chmod 02666 "$L1/a/c/d"                 # setgid, no group x
			chmod 02770 "$L2/d/c"
			chmod 02777 "$L2/h"                     # setgid dir of bob's group
			chown "$AU:$AG" "$L2/a/f"
			chmod 04777 "$L2/a/f"                   # alice's setuid file
			chmod 04755 "$L1/g"                     # hard-linked setuid
			chmod 0777 "$L2/a/c/e"                  # cap_net_raw+ep:
			setfattr -n security.capability \
				-v 0x0100000200200000000000000000000000000000 "$L2/a/c/e"
			if [ "$2" = 1 ]; then
				chmod 0777 "$U/a" "$U/e"
				chmod 06777 "$U/b"
			fi
		fi
	) || return 1
	# give the tree old, fixed times so that copy-up preserving times shows
	find "$1" -exec touch -h -d '1999-01-02 03:04:05.123456789' {} +
}

# ------------------------------------------------------------ mount sides
mount_kernel() { # $1 side dir, $2 workdir name
	local s=$1
	mkdir -p "$s/$2" "$s/m"
	if ! mount -t overlay overlay \
		-o "lowerdir=$s/l2:$s/l1,upperdir=$s/u,workdir=$s/$2,$KOPTS" "$s/m"; then
		echo "FAIL: mount -t overlay on $s failed"
		return 1
	fi
	mounted+=("$s/m")
}

mount_unionfuse() { # $1 side dir
	local s=$1 i
	mkdir -p "$s/m"
	"$UF_BIN" -f "${UF_ARGS[@]}" "${MC_ARGS[@]}" "$s/l1:$s/l2:$s/u" "$s/m" >"$s/daemon.log" 2>&1 &
	daemon_pid=$!
	mounted+=("$s/m")
	for i in $(seq 100); do
		if mountpoint -q "$s/m"; then
			local fstype
			fstype=$(awk -v m="$s/m" '$5 == m { sub(/.* - /, ""); print $1 }' /proc/self/mountinfo | tail -n 1)
			case $fstype in
			fuse*) return 0 ;;
			*) [ "${UF_DIFF_ALLOW_NONFUSE:-}" = 1 ] && return 0 ;;&
			*)
				echo "FAIL: $s/m is mounted as '$fstype', not FUSE"
				return 1
				;;
			esac
		fi
		if ! kill -0 "$daemon_pid" 2>/dev/null; then
			wait "$daemon_pid"
			echo "FAIL: unionfuse exited ($?) before mounting; daemon log:"
			sed 's/^/  | /' "$s/daemon.log" | head -20
			daemon_pid=
			return 1
		fi
		sleep 0.1
	done
	echo "FAIL: unionfuse did not mount within 10s"
	return 1
}

# run fsops (and the listing) on one side; $1 side dir, $2 "kernel"|binary
run_side() {
	local s=$1 kind=$2 rc
	if [ "$kind" = kernel ]; then
		mount_kernel "$s" w || return 1
	else
		mount_unionfuse "$s" || return 1
	fi
	FSOPS_ONLY=$ONLY timeout -k 10 "$TIMEOUT" "$FSOPS" "$seed" "$NOPS" "$s/m" \
		>"$s/ops.log" 2>"$s/ops.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: fsops on $kind side exited $rc (124 = timeout after ${TIMEOUT}s)"
		sed 's/^/  | /' "$s/ops.err" | head -5
		echo "  last op: $(tail -n 1 "$s/ops.log")"
		[ "$kind" != kernel ] && fuse_abort "$s/m"
		side_failed=1
	fi
	if [ -z "${side_failed:-}" ]; then
		timeout -k 10 "$TIMEOUT" "$FSOPS" --tree "$s/m" >"$s/tree" 2>&1 ||
			echo "NOTE: listing of the $kind view reported errors (kept in the tree file)"
	fi
	if [ "$kind" != kernel ] && [ -n "$daemon_pid" ] && ! kill -0 "$daemon_pid" 2>/dev/null; then
		echo "FAIL: unionfuse died during the run; daemon log tail:"
		tail -n 20 "$s/daemon.log" | sed 's/^/  | /'
		side_failed=1
	fi
	do_umount "$s/m"
	if [ "$kind" != kernel ]; then
		daemon_status=0
		stop_daemon
		if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$s/daemon.log"; then
			echo "FAIL: sanitizer report in the daemon log:"
			grep -m1 -A15 -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' \
				"$s/daemon.log" | sed 's/^/  | /'
			side_failed=1
		fi
		if [ "$daemon_status" -ne 0 ]; then
			echo "FAIL: unionfuse exited with status $daemon_status; daemon log tail:"
			tail -n 20 "$s/daemon.log" | sed 's/^/  | /'
			side_failed=1
		fi
	fi
	[ -z "${side_failed:-}" ]
}

# Compare two op logs.  Prints "FIRST <line>" for the first difference that
# is not allowed (0: none) after "ALLOW <line>: <why>" notes.
# The one allowed difference is an oracle artefact, not overlayfs semantics:
# ext4 sets the source directory's mtime when a rename with RENAME_WHITEOUT
# fails late (ENOTEMPTY over a non-empty upper directory: ext4_rename resets
# the old entry, which stamps the dir), and overlayfs uses RENAME_WHITEOUT
# for sources that exist in a lower.  So after "rename P/x Q = -ENOTEMPTY"
# the kernel may report "mtime P = 0 new" where unionfuse keeps "old:...".
log_compare() { # $1 kernel log, $2 other log
	awk '
	function dirname(p) { return sub(/\/[^\/]*$/, "", p) ? p : "." }
	function track(l,   f) {
		split(l, f, " ")
		if (f[2] == "rename" && l ~ / = -ENOTEMPTY$/)
			q[dirname(f[3])] = 1
	}
	function allowed(kl, ol,   a, b) {
		split(kl, a, " "); split(ol, b, " ")
		return a[2] == "mtime" && b[2] == "mtime" && a[3] == b[3] && (a[3] in q) &&
		       kl ~ / = 0 new$/ && ol ~ / = 0 old:[0-9.]+$/
	}
	NR == FNR { k[FNR] = $0; nk = FNR; next }
	{
		no = FNR
		if (FNR > nk) { print "FIRST " FNR; done = 1; exit }
		if (k[FNR] == $0) { track($0); next }
		if (allowed(k[FNR], $0)) {
			print "ALLOW " FNR ": " $2 " " $3 ": kernel \"new\" after a failed rename out of " $3 " (ext4 RENAME_WHITEOUT mtime artefact)"
			track($0); next
		}
		print "FIRST " FNR; done = 1; exit
	}
	END { if (!done) print "FIRST " (no < nk ? no + 1 : 0) }
	' "$1" "$2"
}

# show the first difference of two op logs with the preceding context
show_log_diff() { # $1 kernel log, $2 other log, $3 other name, $4 first line
	local first=$4
	local from=$((first - CONTEXT > 1 ? first - CONTEXT : 2))
	echo "  first difference at log line $first (op $(awk -v n="$first" 'FNR == n { print $1; exit }' "$1")); preceding ops:"
	sed -n "${from},$((first - 1))p" "$1" | sed 's/^/      /'
	echo "  kernel:    $(sed -n "${first}p" "$1")"
	echo "  $(printf '%-10s' "$3:") $(sed -n "${first}p" "$2")"
	local n
	n=$(diff "$1" "$2" | grep -c '^<')
	echo "  ($n differing lines in total; following differences:)"
	tail -n +"$((first + 1))" "$1" >"$1.rest"
	tail -n +"$((first + 1))" "$2" >"$2.rest"
	diff "$1.rest" "$2.rest" | grep '^[<>]' | sed -n '1,10p' |
		sed "s/^</      kernel:    /; s/^>/      $(printf '%-10s' "$3:") /"
	rm -f "$1.rest" "$2.rest"
}

show_tree_diff() { # $1 $2 $3 label
	echo "  $3 (diff -u, first 40 lines):"
	diff -u "$1" "$2" | sed -n '3,42p' | sed 's/^/      /'
}

# ------------------------------------------------------- one comparison
# check_pair T: run the seed on copies of T/base in T/k (kernel) and T/o
# (the other side) and compare; prints FAIL lines, returns 1 on failure.
# Uses $seed, $NOPS and $ONLY (FSOPS_ONLY subset, empty = all).
check_pair() {
	local t=$1 ok=0 s b
	rm -rf "$t/k" "$t/o"
	cp -a "$t/base" "$t/k" && cp -a "$t/base" "$t/o" || exit 1
	for s in k o; do
		for b in l1 l2; do "$FSOPS" --raw "$t/$s/$b" >"$t/$s/$b.before"; done
	done

	side_failed=
	run_side "$t/k" kernel || ok=1
	side_failed=
	run_side "$t/o" "$UF_BIN" || ok=1

	# 1. op logs
	if [ -s "$t/k/ops.log" ] && [ -s "$t/o/ops.log" ]; then
		local cmpres first
		cmpres=$(log_compare "$t/k/ops.log" "$t/o/ops.log")
		grep '^ALLOW' <<<"$cmpres" | sed "s/^ALLOW/seed $seed: allowed difference at log line/"
		first=$(sed -n 's/^FIRST //p' <<<"$cmpres")
		if [ "${first:-1}" != 0 ]; then
			echo "seed $seed: FAIL: operation results differ"
			show_log_diff "$t/k/ops.log" "$t/o/ops.log" "$other" "${first:-1}"
			ok=1
		fi
	fi
	# 2. merged views
	if [ -f "$t/k/tree" ] && [ -f "$t/o/tree" ] && ! cmp -s "$t/k/tree" "$t/o/tree"; then
		echo "seed $seed: FAIL: final merged trees differ"
		show_tree_diff "$t/k/tree" "$t/o/tree" "kernel (-) vs $other (+)"
		ok=1
	fi
	# 3. lowers unchanged
	for s in k o; do
		for b in l1 l2; do
			"$FSOPS" --raw "$t/$s/$b" >"$t/$s/$b.after"
			if ! cmp -s "$t/$s/$b.before" "$t/$s/$b.after"; then
				echo "seed $seed: FAIL: lower branch $b modified by the $([ $s = k ] && echo kernel || echo "$other") run"
				show_tree_diff "$t/$s/$b.before" "$t/$s/$b.after" "before (-) vs after (+)"
				ok=1
			fi
		done
	done
	# 4. kernel view of the branches the other side left behind
	if [ -f "$t/o/tree" ]; then
		if mount_kernel "$t/o" w2; then
			"$FSOPS" --tree "$t/o/m" >"$t/o/tree.kernel" 2>&1
			do_umount "$t/o/m"
			if ! cmp -s "$t/o/tree" "$t/o/tree.kernel"; then
				echo "seed $seed: FAIL: kernel overlayfs on $other's branches shows a different tree"
				show_tree_diff "$t/o/tree" "$t/o/tree.kernel" "$other view (-) vs kernel remount (+)"
				ok=1
			fi
		else
			echo "seed $seed: FAIL: kernel overlayfs refuses $other's branches"
			ok=1
		fi
	fi
	return $ok
}

# first differing op of T's logs (0 if the logs agree)
first_diff_op() {
	local n op
	n=$(log_compare "$1/k/ops.log" "$1/o/ops.log" | sed -n 's/^FIRST //p')
	[ "${n:-0}" != 0 ] || { echo 0; return; }
	# with a subset the op number is the first field of that line
	op=$( (sed -n "${n}p" "$1/k/ops.log"; sed -n "${n}p" "$1/o/ops.log") | awk '$1 ~ /^[0-9]+$/ { print $1; exit }')
	echo "${op:-$NOPS}"
}

# ------------------------------------------------------------- reduction
# UF_DIFF_REDUCE=1: shrink a failing seed's op sequence (drop chunks of
# halving size among the ops before the first difference, which is always
# kept, as long as the run still fails) and print a small reproducer.
reduce() { # $1 seed dir
	local t=$1 last ops keep trials=0 max=${UF_DIFF_REDUCE_MAX:-400} logdiff=0
	last=$(first_diff_op "$t")
	if [ "$last" = 0 ]; then
		last=$NOPS # tree-only failure: keep the last op
	else
		logdiff=1
	fi
	mapfile -t ops < <(seq 1 $((last - 1)))
	trial() { # $@ candidate ops; success (0) = still fails the same way
		trials=$((trials + 1))
		ONLY=$(IFS=,; echo "$*${*:+,}$last")
		check_pair "$t" >/dev/null 2>&1 && return 1
		# a log difference must stay at the same op (no slipping to
		# another bug); a tree-only failure may be any failure
		[ $logdiff = 0 ] || [ "$(first_diff_op "$t")" = "$last" ]
	}
	echo "seed $seed: reducing (first difference at op $last; $((last - 1)) ops before it; at most $max trials)"
	if ! trial; then
		# the differing op alone is not enough: sweep chunks of halving
		# size over the list, dropping every chunk that is not needed
		local chunk=$((${#ops[@]} / 2)) i
		[ $chunk -lt 1 ] && chunk=1
		while [ $chunk -ge 1 ] && [ $trials -lt "$max" ]; do
			i=0
			while [ $i -lt ${#ops[@]} ] && [ $trials -lt "$max" ]; do
				keep=("${ops[@]:0:i}" "${ops[@]:i+chunk}")
				if trial "${keep[@]}"; then
					ops=("${keep[@]}")
				else
					i=$((i + chunk))
				fi
			done
			[ $chunk = 1 ] && break
			chunk=$(((chunk + 1) / 2))
			[ $chunk -gt ${#ops[@]} ] && chunk=${#ops[@]}
		done
		[ $trials -ge "$max" ] && echo "seed $seed: reduction stopped after $max trials (UF_DIFF_REDUCE_MAX)"
	else
		ops=()
	fi
	ONLY=$(IFS=,; echo "${ops[*]}${ops[*]:+,}$last")
	check_pair "$t" >"$t/reduced.report" 2>&1
	echo "seed $seed: reduced to $((${#ops[@]} + 1)) ops after $trials trials: FSOPS_ONLY=$ONLY fsops $seed $NOPS MNT"
	echo "  kernel log:"
	sed 1d "$t/k/ops.log" | sed 's/^/      /'
	echo "  $other log:"
	sed 1d "$t/o/ops.log" | sed 's/^/      /'
	grep -q 'merged trees differ\|different tree\|modified by' "$t/reduced.report" &&
		grep -A12 'merged trees differ\|different tree\|modified by' "$t/reduced.report" | sed 's/^/  /'
	ONLY=
}

# ------------------------------------------------------------------ main
other=$([ "$UF_BIN" = kernel ] && echo kernel2 || echo unionfuse)
echo "differential: $other vs kernel overlayfs ($KOPTS), seeds $(echo $seed_list), $NOPS ops each${FSOPS_USERS:+, users $FSOPS_USERS}, work dir $work"
ONLY=
failed_seeds=()
for seed in $seed_list; do
	t=$work/seed$seed
	mkdir -p "$t"
	# odd seeds start with an empty upper, even seeds with a populated one
	if ! make_branches "$t/base" $((1 - seed % 2)); then
		echo "FAIL: cannot create the initial branches"
		exit 1
	fi
	if check_pair "$t"; then
		echo "seed $seed: ok ($(grep -c ' = [0-9]' "$t/k/ops.log") of $NOPS ops succeeded, $(wc -l <"$t/k/tree") entries in final tree)"
		[ "${UF_DIFF_KEEP:-}" = 1 ] || rm -rf "$t"
	else
		failed_seeds+=("$seed")
		if [ "${UF_DIFF_REDUCE:-}" = 1 ]; then
			mkdir -p "$t/full"
			cp -a "$t/k/ops.log" "$t/full/k.log"
			cp -a "$t/o/ops.log" "$t/full/o.log"
			reduce "$t"
		fi
	fi
done

if [ ${#failed_seeds[@]} -gt 0 ]; then
	echo "FAILED seeds: ${failed_seeds[*]}"
	if [ "${UF_DIFF_KEEP:-}" = 0 ]; then
		rm -rf "$work"
	else
		echo "logs kept in $work (seedN/k = kernel, seedN/o = $other)"
	fi
	exit 1
fi
[ "${UF_DIFF_KEEP:-}" = 1 ] || rm -rf "$work"
echo "PASS"
exit 0
