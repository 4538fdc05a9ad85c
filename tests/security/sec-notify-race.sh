#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Lower dirs swapped under readers. The daemon watches the lowers with
# inotify and turns each event into kernel cache invalidations, from its own
# thread, while requests run. For ~15 s root exchanges sibling dirs of a
# lower (renameat2 RENAME_EXCHANGE at the top and one level down, and the
# mv a tmp; mv b a; mv tmp b dance) while three readers as alice run ls -R,
# find and stat through the union, and the kernel drops its dentry and
# inode caches every 2 s (FORGETs racing with the notify thread).
#
# Must hold: no reader hangs (each call has a 10 s timeout), the daemon does
# not crash and, in the sanitizer build (-Dsanitize=true), writes no
# ASan/UBSan report (its stderr is kept: it runs with -f); after the storm
# the union shows exactly the lower's tree (the last change shows, as the
# daemon promises for lower changes); the untouched bottom lower is
# unchanged.
# Usage: sec-notify-race.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
T=$UF_TMP/t
BASE=$T/base L=$T/lower U=$T/upper M=$SEC_MNT
NDIRS=40
SECS=${SEC_RACE_SECS:-15}
mkdir -p "$BASE" "$L" "$U"
printf 'canary' >"$BASE/canary"
for i in $(seq -w 0 $((NDIRS - 1))); do
	mkdir -p "$L/d$i/s/t" "$BASE/d$i"
	for f in 0 1 2 3; do
		printf 'd%s/f%s\n' "$i" "$f" >"$L/d$i/f$f"
	done
	printf 'd%s/s/g\n' "$i" >"$L/d$i/s/g"
	printf 'd%s/s/t/h\n' "$i" >"$L/d$i/s/t/h"
	printf 'base%s\n' "$i" >"$BASE/d$i/b"
done
wr_save_lowers "$BASE"
sec_mount "$BASE:$L:$U" || uf_finish

sec_bg root "$UF_TMP/swapper.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import random, time
d, n, end = A[0], int(A[1]), time.monotonic() + float(A[2])
rnd = random.Random(42)
ops = 0
while time.monotonic() < end:
    a, b = rnd.sample(range(n), 2)
    pa, pb = "%s/d%02d" % (d, a), "%s/d%02d" % (d, b)
    k = ops % 3
    try:
        if k == 0:
            renameat2(pa, pb, RENAME_EXCHANGE)
        elif k == 1:
            renameat2(pa + "/s", pb + "/s", RENAME_EXCHANGE)
        else:
            os.rename(pa, d + "/tmp")
            os.rename(pb, pa)
            os.rename(d + "/tmp", pb)
    except OSError as e:
        print("swap", ename(e))
    ops += 1
print("swaps", ops)' "$L" "$NDIRS" "$SECS"
swapper=$SEC_BG_PID
# The kernel forgets unused dentries and inodes every 2 s, so FORGETs free
# inodes in the daemon while its notify thread looks them up.
sec_bg root "$UF_TMP/dropper.log" bash -c 'end=$((SECONDS + $1)); while [ $SECONDS -lt $end ]; do echo 2 >/proc/sys/vm/drop_caches; sleep 2; done' _ "$SECS"
dropper=$SEC_BG_PID

# reader KIND: loop KIND through the union; every call has a 10 s timeout,
# "HANG KIND" is printed for one that did not finish.
READER='
end=$((SECONDS + $2)); n=0
while [ $SECONDS -lt $end ]; do
	case $1 in
	ls) timeout -k 2 10 ls -R "$3" >/dev/null 2>&1 ;;
	find) timeout -k 2 10 find "$3" -type f -size -1k >/dev/null 2>&1 ;;
	stat) timeout -k 2 10 sh -c "for i in \$(seq -w 0 39); do stat \"\$1/d\$i/s/t/h\" \"\$1/d\$i/f1\"; done" _ "$3" >/dev/null 2>&1 ;;
	esac
	rc=$?
	# timeout exits 124 when it stopped the call, 137 when it had to KILL
	# it: a hang. Any other death by a signal is not one: the readers never
	# map a union file, so a SIGBUS/SIGSEGV there is the host (e.g. a text
	# page of the reader itself failing to read back after drop_caches) and
	# is only logged.
	case $rc in
	124 | 137) echo "HANG $1" ;;
	1[2-9][0-9]) echo "SIGNAL $1 $((rc - 128))" ;;
	esac
	n=$((n + 1))
done
echo "$1 runs $n"'
readers=()
for kind in ls find stat; do
	sec_bg alice "$UF_TMP/reader-$kind.log" bash -c "$READER" _ "$kind" "$SECS" "$M"
	readers+=("$SEC_BG_PID")
done
for p in "${readers[@]}"; do
	sec_wait "$p" $((SECS + 40)) "a reader during the dir swaps"
done
sec_wait "$swapper" $((SECS + 40)) "the lower swapper"
sec_wait "$dropper" $((SECS + 40)) "drop_caches"
uf_log "$(cat "$UF_TMP/swapper.log" "$UF_TMP"/reader-*.log | tr '\n' ' ')"
uf_check_eq "no reader call hung (10 s timeout each)" "" "$(cat "$UF_TMP"/reader-*.log | grep HANG)"
grep -h '^SIGNAL' "$UF_TMP"/reader-*.log | while read -r _ kind sig; do
	uf_log "note: a $kind reader died of signal $sig (not a hang; the daemon is checked alive below)"
done
uf_check_eq "the swapper's renames all worked" "" "$(grep '^swap ' "$UF_TMP/swapper.log")"

# After the storm the union shows the lower as it is now.
sleep 1
if ! sec_hung; then
	sec_run "brief of the union" root 30 "$UF_PYTHON" "$UF_LIB/fsutil.py" brief "$M"
	exp=$("$UF_PYTHON" "$UF_LIB/fsutil.py" brief "$L" | grep -v ' canary')
	act=$(printf '%s\n' "$SEC_OUT" | grep -v ' canary' | grep -v -E '^f d[0-9]+/b ')
	uf_check_eq "after the swaps the union shows the lower's tree" "$exp" "$act"
fi
sec_after "lower dirs swapped for ${SECS}s under readers"
sec_umount
wr_check_lowers "the untouched bottom lower is unchanged"
uf_finish
