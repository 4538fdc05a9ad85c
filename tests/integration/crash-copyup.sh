#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# SIGKILL during copy-up.  The lower has 4 sparse 256 MiB files (random data
# regions and holes, mode 0640, owner 1234:5678, a user.* xattr).  Each
# round starts the daemon with -f in the background over a fresh upper,
# drops the lower files from the page cache (so the copy reads the disk),
# starts one first write per file at once (dd conv=notrunc, or a Python
# open(.., 'r+b') + pwrite), SIGKILLs the daemon once it has read a random
# 2-98% of the lower data from the disk (read_bytes in /proc/PID/io; when
# that does not grow, after a random part of a whole round's time), lazily
# unmounts the dead mount and checks:
#  - the upper holds only those 4 names; each copy is complete: lower's size,
#    mode, owner, xattr, holes, and data except the written bytes, which are
#    either all there or not at all; a write that returned success is there;
#  - no temp names in the upper (.wh..wh.uf-tmp.* are reported, and fail
#    only when the union shows them), nothing but the 4 names in the union;
#  - after a remount the union shows the upper copy or the lower file, and
#    a first/second write through it works;
#  - every second kill round first gives the 4 files a metadata-only copy-up
#    (setfattr through the union, -o metacopy default): then the data copy
#    is killed, and an upper file still marked overlay.metacopy must show
#    the lower's data through the union, one without the mark must be whole;
#  - the lower files' ctime/mtime never change, and their sha256 at the end.
# UF_CRASH_SEED=N repeats a run's delays; UF_CRASH_ROUNDS=N sets the rounds.
# Usage: crash-copyup.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
HELP=$(cd "$(dirname "$0")" && pwd)/helpers/uftree.py

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd dd sha256sum setfattr getfattr
uf_tmp
uftree() { "$UF_PYTHON" "$HELP" "$@"; }

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
mkdir -p "$L" "$U" "$M"
SEED=${UF_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
ROUNDS=${UF_CRASH_ROUNDS:-6}
RANDOM=$SEED
uf_log "seed $SEED (rerun with UF_CRASH_SEED=$SEED), $ROUNDS kill rounds"
SIZE=$((256 << 20))
REG=$((4 << 20))

t0=$SECONDS
declare -A DATAOFF RANGES
for i in 0 1 2 3; do
	offs=$(uftree sparse "$L/f$i" $SIZE $((SEED + i)) 16 $REG) || { uf_fail "make lower file f$i"; uf_finish; }
	DATAOFF[$i]=${offs%%$'\n'*}
	# the data regions, the first MiB, and the last page
	RANGES[$i]="0+$((1 << 20)),$((SIZE - 4096))+4096$(printf ",%s+$REG" $offs)"
	chmod 640 "$L/f$i" && chown 1234:5678 "$L/f$i" && setfattr -n user.tag -v "f$i" "$L/f$i" ||
		{ uf_fail "set metadata on f$i"; uf_finish; }
done
sync
uf_log "lower made in $((SECONDS - t0)) s ($(du -sh "$L" | cut -f1) on disk)"
lower_stat=$(stat -c '%n %s %b %Y %Z %a %u %g' "$L"/f*)
lower_sha=$(cd "$L" && sha256sum f*)

# offset I ROUND: where round ROUND writes into file I: in a data region,
# in a hole, or in the last page.
offset() {
	case $((($2 + $1) % 3)) in
	0) echo $((DATAOFF[$1] + 12345)) ;;
	1) echo $((SIZE / 2 + 777)) ;;
	2) echo $((SIZE - 5)) ;;
	esac
}
marker() { printf 'K%02d%02d' "$2" "$1" | od -An -tx1 | tr -d ' \n'; }   # 5 bytes

# start_writers ROUND: one first write per file, all at once; exit status
# of each in $UF_TMP/w.I.rc
start_writers() {
	local i off hex
	WPIDS=()
	for i in 0 1 2 3; do
		off=$(offset $i "$1")
		hex=$(marker $i "$1")
		rm -f "$UF_TMP/w.$i.rc"
		if [ $((($1 + i) % 2)) -eq 0 ]; then
			( printf "K%02d%02d" "$1" $i | timeout 60 dd of="$M/f$i" bs=5 count=1 seek="$off" \
				oflag=seek_bytes conv=notrunc status=none 2>"$UF_TMP/w.$i.err"
			  echo $? >"$UF_TMP/w.$i.rc" ) &
		else
			( timeout 60 "$UF_PYTHON" -c 'import os, sys
with open(sys.argv[1], "r+b", buffering=0) as f:
    f.seek(int(sys.argv[2])); f.write(bytes.fromhex(sys.argv[3]))' "$M/f$i" "$off" "$hex" 2>"$UF_TMP/w.$i.err"
			  echo $? >"$UF_TMP/w.$i.rc" ) &
		fi
		WPIDS+=($!)
	done
}

start_daemon() {
	"$BIN" -f -o metacopy=on "$L:$U" "$M" 2>>"$UF_TMP/daemon.err" &
	DPID=$!
	if ! uf_wait_mounted "$M" 10; then
		uf_fail "round $1: daemon -f mounts" "stderr: $(cat "$UF_TMP/daemon.err")"
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		return 1
	fi
}

# is_metacopy FILE: FILE (in the upper) carries overlay.metacopy
is_metacopy() {
	getfattr --absolute-names -d -m '^(trusted|user)\.overlay\.metacopy$' "$1" 2>/dev/null | grep -q metacopy
}

# check_round ROUND META: the branches and a fresh mount after the round.
check_round() {
	local r=$1 meta=$2 i off hex rc res bad=() stray=() names present=0 nmeta=0 st
	names=$(cd "$U" && find . -mindepth 1 | sed 's|^\./||' | sort)
	while read -r n; do
		[ -n "$n" ] || continue
		case $n in
		f0 | f1 | f2 | f3) ;;
		.wh..wh.uf-tmp.*) stray+=("$n") ;;
		*) bad+=("unexpected name in the upper: $n") ;;
		esac
	done <<<"$names"
	[ ${#stray[@]} -gt 0 ] && uf_log "round $r: hidden temp names left in the upper: ${stray[*]}"
	for i in 0 1 2 3; do
		off=$(offset $i "$r")
		hex=$(marker $i "$r")
		rc=$(cat "$UF_TMP/w.$i.rc" 2>/dev/null || echo none)
		STATE[$i]=none
		if [ ! -e "$U/f$i" ]; then
			[ "$rc" = 0 ] && bad+=("f$i: the write returned success but there is no upper copy")
			[ "$meta" = 1 ] && bad+=("f$i: the metadata-only copy made before the round is gone")
			continue
		fi
		if [ "$meta" = 1 ] && is_metacopy "$U/f$i"; then
			# data copy not finished: the union must read the lower's data
			STATE[$i]=meta
			nmeta=$((nmeta + 1))
			[ "$rc" = 0 ] && bad+=("f$i: the write returned success but the upper file is still metacopy")
		else
			present=$((present + 1))
			res=$(uftree cmp-patched "$L/f$i" "$U/f$i" "$off:$hex" 2>&1)
			case $res in
			SAME) STATE[$i]=same
				[ "$rc" = 0 ] && bad+=("f$i: the write returned success but the upper copy lacks it") ;;
			"PATCHED 0") STATE[$i]=patched ;;
			*) bad+=("f$i: upper copy is not the lower plus the write: $res") ;;
			esac
			[ "$(stat -c %b "$U/f$i")" -le $(( $(stat -c %b "$L/f$i") + 64 )) ] ||
				bad+=("f$i: upper copy has $(stat -c %b "$U/f$i") blocks, the lower $(stat -c %b "$L/f$i"): holes filled")
		fi
		st=$(stat -c '%s %a %u %g' "$U/f$i")
		[ "$st" = "$SIZE 640 1234 5678" ] || bad+=("f$i: upper copy size/mode/owner '$st', want '$SIZE 640 1234 5678'")
		[ "$(getfattr --absolute-names --only-values -n user.tag "$U/f$i" 2>&1)" = "f$i" ] ||
			bad+=("f$i: upper copy lacks user.tag=f$i: $(getfattr -d "$U/f$i" 2>&1 | tail -n +2)")
		[ "$meta" = 0 ] || [ "$(getfattr --absolute-names --only-values -n user.meta "$U/f$i" 2>&1)" = "m" ] ||
			bad+=("f$i: upper copy lacks user.meta=m (set before the round)")
	done
	uf_log "round $r: $present of 4 files copied up$([ "$meta" = 1 ] && echo ", $nmeta still metacopy"); writers: $(for i in 0 1 2 3; do printf 'f%s=%s ' $i "$(cat "$UF_TMP/w.$i.rc" 2>/dev/null)"; done)"
	if [ ${#bad[@]} -eq 0 ]; then
		uf_pass "round $r: the upper holds only complete copies ($present of 4$([ "$meta" = 1 ] && echo ", $nmeta metacopy"))"
	else
		uf_fail "round $r: the upper holds only complete copies$([ "$meta" = 1 ] && echo " (metacopy round)")" "${bad[@]}" \
			"upper: $(ls -la "$U" | tail -n +2)"
	fi
	COPIED=$((COPIED + present))
	[ "$present" -gt 0 ] && [ "$present" -lt 4 ] && PARTIAL=$((PARTIAL + 1))

	# the union after a remount
	uf_mount "$BIN" "$L:$U" "$M" -o metacopy=on || return
	uf_check_out "round $r: the union lists just the 4 files" "$(printf '%s\n' f0 f1 f2 f3)" ls -A "$M"
	bad=()
	for i in 0 1 2 3; do
		off=$(offset $i "$r")
		hex=$(marker $i "$r")
		want=$(dd if="$L/f$i" bs=5 count=1 skip="$off" iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n')
		[ "${STATE[$i]}" = patched ] && want=$hex
		got=$(dd if="$M/f$i" bs=5 count=1 skip="$off" iflag=skip_bytes status=none | od -An -tx1 | tr -d ' \n')
		[ "$got" = "$want" ] || bad+=("f$i: bytes at $off through the union: $got, want $want")
		got=$(stat -c '%s %a %u %g' "$M/f$i")
		[ "$got" = "$SIZE 640 1234 5678" ] || bad+=("f$i: size/mode/owner through the union: $got")
		if [ "${STATE[$i]}" = meta ]; then
			res=$(uftree cmp-patched-in "$L/f$i" "$M/f$i" "${RANGES[$i]}" "$off:$hex" 2>&1)
			[ "$res" = SAME ] || bad+=("f$i (upper still metacopy): union data vs the lower's: $res, want SAME")
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then uf_pass "round $r: after remount the union shows each file whole"; else
		uf_fail "round $r: after remount the union shows each file whole" "${bad[@]}"; fi
	uf_umount "$M"
}

# read_bytes: set RB to the daemon's read_bytes in /proc/PID/io (0 if
# unknown).  No command substitution: it is polled every 2 ms.
read_bytes() {
	local k v
	RB=0
	while read -r k v; do
		[ "$k" = read_bytes: ] && { RB=$v; return; }
	done <"/proc/$DPID/io" 2>/dev/null
}

# wait_read_bytes BYTES TIMEOUT_MS: poll until the daemon has read BYTES
# from the disk or TIMEOUT_MS passed; RB is what it has read.
wait_read_bytes() {
	local t=${EPOCHREALTIME/./} end
	end=$((t / 1000 + $2))
	while :; do
		read_bytes
		[ "$RB" -ge "$1" ] && break
		t=${EPOCHREALTIME/./}
		[ $((t / 1000)) -ge "$end" ] && break
		read -r -t 0.002 -u "$SLEEPFD"
	done
}

exec {SLEEPFD}<> <(:)
DATA=$((4 * 16 * REG))
BYTES_OK=0
COPIED=0
PARTIAL=0
MIDCOPY=0
declare -A STATE
for r in $(seq 0 "$ROUNDS"); do
	find "$U" -mindepth 1 -delete
	meta=0
	if [ "$r" -gt 0 ] && [ $((r % 2)) -eq 0 ]; then
		# a metadata-only copy-up of each file first
		meta=1
		uf_mount "$BIN" "$L:$U" "$M" -o metacopy=on || break
		for i in 0 1 2 3; do setfattr -n user.meta -v m "$M/f$i"; done
		uf_umount "$M"
		n=0
		for i in 0 1 2 3; do is_metacopy "$U/f$i" && n=$((n + 1)); done
		uf_check_eq "round $r: setfattr made 4 metadata-only copies" 4 "$n" "setfattr -n user.meta -v m MNT/f0..f3; getfattr -m overlay.metacopy UPPER/f*"
		[ "$n" = 4 ] || meta=0
	fi
	uftree dropcache "$L"/f*
	start_daemon "$r" || continue
	t1=$(date +%s%N)
	start_writers "$r"
	if [ "$r" -eq 0 ]; then
		# calibration: no kill; how long do 4 concurrent copy-ups take?
		wait "${WPIDS[@]}"
		T=$((($(date +%s%N) - t1) / 1000000))
		read_bytes
		rb=$RB
		uf_log "round 0: 4 concurrent copy-ups took $T ms; the daemon read $((rb >> 20)) MiB from the disk"
		[ "$T" -lt 20 ] && T=20
		# Kill by progress when the copies read the disk (page cache dropped)
		BYTES_OK=0
		[ "$rb" -ge $((DATA / 2)) ] && BYTES_OK=1
		fusermount3 -u "$M"
		wait "$DPID"
		uf_wait_unmounted "$M" 10
		for i in 0 1 2 3; do
			[ "$(cat "$UF_TMP/w.$i.rc")" = 0 ] ||
				uf_fail "round 0: write to f$i without a kill" "$(cat "$UF_TMP/w.$i.err")"
		done
	else
		if [ "$BYTES_OK" = 1 ]; then
			# kill when the daemon has read a random 2..98% of the data
			target=$(( DATA / 100 * (2 + RANDOM % 97) ))
			wait_read_bytes "$target" $((T * 2))
			kill -KILL "$DPID"
			rb=$RB
			how="at read_bytes $((rb >> 20)) MiB (target $((target >> 20)) of $((DATA >> 20)) MiB)"
			[ "$rb" -gt 0 ] && [ "$rb" -lt "$DATA" ] && MIDCOPY=$((MIDCOPY + 1))
		else
			# kill somewhere in the first 110% of the calibrated time
			delay=$((RANDOM % (T * 11 / 10 + 1)))
			read -r -t "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))" -u "$SLEEPFD"
			kill -KILL "$DPID"
			how="after $delay ms"
		fi
		wait "$DPID" 2>/dev/null
		uf_log "round $r$([ "$meta" = 1 ] && echo " (metacopy)"): SIGKILL $how"
		for p in "${WPIDS[@]}"; do wait "$p"; done
		fusermount3 -uz "$M" 2>/dev/null
		if ! uf_wait_unmounted "$M" 10; then
			uf_fail "round $r: lazy unmount of the dead mount" "still in mountinfo"
			break
		fi
	fi
	check_round "$r" "$meta"
	st=$(stat -c '%n %s %b %Y %Z %a %u %g' "$L"/f*)
	[ "$st" = "$lower_stat" ] || uf_fail "round $r: lower files' stat unchanged" "expected: $lower_stat" "actual:   $st"
done
uf_log "over the kill rounds: $COPIED upper copies checked; $PARTIAL rounds killed with some but not all copies published; $MIDCOPY kills after the daemon had read part of the data"

# --- after all that, the union still copies up correctly
find "$U" -mindepth 1 -delete
uf_mount "$BIN" "$L:$U" "$M" -o metacopy=on || uf_finish
for i in 0 1 2 3; do
	printf 'final' | dd of="$M/f$i" bs=5 count=1 seek=$((SIZE - 100)) oflag=seek_bytes conv=notrunc status=none
done
bad=()
for i in 0 1 2 3; do
	res=$(dd if="$M/f$i" bs=5 count=1 skip=$((SIZE - 100)) iflag=skip_bytes status=none)
	[ "$res" = final ] || bad+=("f$i through the union: '$res' at $((SIZE - 100)), want 'final'")
done
uf_umount "$M"
for i in 0 1 2 3; do
	res=$(uftree cmp-patched "$L/f$i" "$U/f$i" "$((SIZE - 100)):$(printf final | od -An -tx1 | tr -d ' \n')")
	[ "$res" = "PATCHED 0" ] || bad+=("f$i in the upper: $res")
done
if [ ${#bad[@]} -eq 0 ]; then uf_pass "a last copy-up of all 4 files is complete, in the union and the upper"; else
	uf_fail "a last copy-up of all 4 files is complete" "${bad[@]}"; fi
uf_check_eq "lower files' sha256 unchanged" "$lower_sha" "$(cd "$L" && sha256sum f*)"
uf_finish
