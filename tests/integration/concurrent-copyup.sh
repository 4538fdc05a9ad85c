#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Concurrent copy-ups.
#  A. 16 processes make the first write to the SAME 32 MiB lower file at once
#     (open O_RDWR / O_WRONLY + pwrite, or dd conv=notrunc; each at its own
#     offset), 3 rounds on 3 files: every write succeeds, the upper has
#     exactly one copy (one name, nlink 1, no temp names), and it is the
#     lower's data with all 16 writes; so does the union, also to a reader
#     that opened the file before the copy-up.
#  B. 8 different 128 MiB lower files, one first write each, all at once:
#     the sha256 of each upper copy equals the lower's with that write.
#  C. first writes to 1500 lower files in one dir from 4 threads while
#     another sets the dir's times and creates files in it: the times set
#     stay set and the dir's mtime never goes back behind a file just made
#     in it (a copy-up must not restore the parent's times over a newer
#     change).
# Then the lower is unchanged (sha256).
# Usage: concurrent-copyup.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
HELP=$(cd "$(dirname "$0")" && pwd)/helpers/uftree.py

uf_require_fuse "$BIN"
uf_require_cmd dd sha256sum
uf_tmp
uftree() { "$UF_PYTHON" "$HELP" "$@"; }

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
mkdir -p "$L/same" "$L/big" "$L/times" "$U" "$M"
MB=$((1 << 20))

t0=$SECONDS
for f in 0 1 2; do
	head -c $((32 * MB)) /dev/urandom >"$L/same/s$f" || { uf_fail "make lower files"; uf_finish; }
done
head -c $((128 * MB)) /dev/urandom >"$UF_TMP/base" || { uf_fail "make lower files"; uf_finish; }
for k in 0 1 2 3 4 5 6 7; do
	# rotations of one random file: the same offset differs in every file
	rot=$((k * 1234567))
	{ tail -c +$((rot + 1)) "$UF_TMP/base"; head -c "$rot" "$UF_TMP/base"; } >"$L/big/b$k"
done
rm -f "$UF_TMP/base"
head -c $((48 << 10)) /dev/urandom >"$L/times/f0"
"$UF_PYTHON" -c 'import shutil, sys
for i in range(1, 1500):
    shutil.copyfile(sys.argv[1] + "/f0", sys.argv[1] + "/f%d" % i)' "$L/times"
lower_sum=$(cd "$L" && find same big -type f -print0 | sort -z | xargs -0 sha256sum)
uf_log "lower made in $((SECONDS - t0)) s"

uf_mount "$BIN" "$L:$U" "$M" || uf_finish

# --- A: 16 first writes to one file
for f in 0 1 2; do
	specs=()
	for w in $(seq 0 15); do
		case $(((w + f) % 3)) in 0) mode=rw ;; 1) mode=w ;; 2) mode="dd" ;; esac
		# spread over the file, not page aligned, some sharing a page
		off=$(((w * 2 * MB) + (w % 4) * 1000 + 7))
		specs+=("$off:$(printf 'W%02d-%d-%s' "$w" "$f" "$mode" | od -An -tx1 | tr -d ' \n'):$mode")
	done
	patches=("${specs[@]%:*}")
	# a reader with the file open before the copy-up, its pages cached
	exec {rfd}<"$M/same/s$f"
	cat <&$rfd >/dev/null
	t1=$SECONDS
	out=$(uftree pwrite-many "$M/same/s$f" "${specs[@]}" 2>&1)
	uf_log "round $f: 16 writers done in $((SECONDS - t1)) s"
	uf_check_eq "A$f: all 16 first writes to same/s$f succeed" \
		"$(for w in $(seq 0 15); do echo "$w OK"; done)" "$out"
	uf_check_out "A$f: the union lists same/s$f once" "1" bash -c 'ls -A "$1" | grep -cx "$2"' _ "$M/same" "s$f"
	uf_check_out "A$f: upper has exactly one copy, nlink 1" "s$f 1" \
		bash -c 'cd "$1" && for n in $(ls -A | grep -v "^s[0-9]$" ; ls -A | grep -x "$2"); do echo "$n $(stat -c %h "$n")"; done' _ "$U/same" "s$f"
	all=$(seq -s, 0 15)
	uf_check_out "A$f: upper copy = lower + all 16 writes" "PATCHED $all" \
		uftree cmp-patched "$L/same/s$f" "$U/same/s$f" "${patches[@]}"
	uf_check_out "A$f: union file = lower + all 16 writes" "PATCHED $all" \
		uftree cmp-patched "$L/same/s$f" "$M/same/s$f" "${patches[@]}"
	# the reader opened before the copy-up sees the writes too
	p0=${patches[5]}
	h0=${p0#*:}
	uf_check_out "A$f: a reader opened before the copy-up sees a write" "$h0" \
		"$UF_PYTHON" -c 'import os, sys; print(os.pread(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])).hex())' \
		"$rfd" $((${#h0} / 2)) "${p0%%:*}"
	exec {rfd}<&-
done

# --- B: 8 big files at once
specs=()
for k in 0 1 2 3 4 5 6 7; do
	off=$(( (k * 13 + 5) * MB + 333 ))
	hex=$(printf 'BIG%d' "$k" | od -An -tx1 | tr -d ' \n')
	BOFF[$k]=$off
	BHEX[$k]=$hex
done
t1=$SECONDS
pids=()
for k in 0 1 2 3 4 5 6 7; do
	uftree pwrite-many "$M/big/b$k" "${BOFF[$k]}:${BHEX[$k]}:$([ $((k % 2)) = 0 ] && echo rw || echo dd)" >"$UF_TMP/b$k.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
uf_log "8 concurrent copy-ups of 128 MiB: $((SECONDS - t1)) s"
uf_check_eq "B: the 8 first writes succeed" "$(for k in 0 1 2 3 4 5 6 7; do echo "0 OK"; done)" \
	"$(cat "$UF_TMP"/b[0-7].out)"
exp=$(for k in 0 1 2 3 4 5 6 7; do echo "$(uftree patched-sha256 "$L/big/b$k" "${BOFF[$k]}:${BHEX[$k]}")  b$k"; done)
uf_check_eq "B: sha256 of each upper copy = lower + its write" "$exp" "$(cd "$U/big" && sha256sum b[0-7])"
uf_check_eq "B: sha256 through the union (b0, b5)" "$(printf '%s\n' "$exp" | grep -E ' b[05]$')" \
	"$(cd "$M/big" && sha256sum b0 b5)"
uf_check_out "B: nothing else in the upper dir" "$(printf 'b%s\n' 0 1 2 3 4 5 6 7)" ls -A "$U/big"

# --- C: copy-ups vs. changes to the parent's times
out=$(uftree parent-times "$M/times" "$U/times" 1500 4 2>&1)
uf_check_eq "C: copy-ups in a dir keep the times set on it and newer mtimes (BAD/TOTAL)" "utime: 0/*
create: 0/*" "$(printf '%s\n' "$out" | sed -E 's#^(utime|create): 0/[0-9]+$#\1: 0/*#')" \
	"uftree.py parent-times $M/times $U/times 1500 4"
uf_umount "$M"

uf_check_eq "lower unchanged (sha256)" "$lower_sum" "$(cd "$L" && find same big -type f -print0 | sort -z | xargs -0 sha256sum)"
uf_check_out "no temp names in the upper" "" find "$U" -name '.wh..wh.uf-tmp.*'
uf_finish
