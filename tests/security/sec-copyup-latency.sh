#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One user's slow copy-up must not stall other users. The lower (a tmpfs)
# holds a real 2 GiB file (SEC_BIG_MB) of alice's, mode 0666, and small files. Alice
# opens the big file O_WRONLY through the union: a copy-up of 2 GiB, which
# takes seconds. Meanwhile bob stats, lists and reads the small files
# through the union, timing each call; and, on the SAME big file, bob runs
# touch (utimes now) and open O_TRUNC and alice runs chmod.
#
# Must hold: each of bob's calls on other files answers within 0.5 s (no
# request waits behind the copy-up); the calls on the big file finish
# (within 60 s) without an error; the big file ends up 0 bytes (truncated)
# or whole; the lower is unchanged. Prints the latencies.
# Usage: sec-copyup-latency.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
T=$UF_TMP/t
L=$T/lower U=$T/upper M=$SEC_MNT
BIG_MB=${SEC_BIG_MB:-2048}
MAX_LAT=0.5
mkdir -p "$T"
mount -t tmpfs -o size=$((BIG_MB * 2 + 512))m,mode=0755 uf-sec-latency "$T" || uf_skip "cannot mount a tmpfs"
mkdir -p "$L/dir" "$U"
printf 'canary' >"$L/canary"
for i in $(seq 0 19); do
	printf 'small-%s\n' "$i" >"$L/small$i"
	printf 'e\n' >"$L/dir/e$i"
done
dd if=/dev/zero of="$L/big" bs=1M count="$BIG_MB" status=none || uf_fail "create a ${BIG_MB} MiB file"
printf 'END' >>"$L/big"
chown "$SEC_ALICE" "$L/big"
chmod 0666 "$L/big"
wr_save_lowers "$L"
sec_mount "$L:$U" || uf_finish
mkdir -m 1777 "$UF_TMP/flags"
DONE=$UF_TMP/flags/copyup.done

# bob, until alice's copy-up is done (at most 60 s): stat, listdir and read
# of other files, each timed
sec_bg bob "$UF_TMP/prober.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
m, done, maxlat = A[0], A[1], float(A[2])
lat = []
slow = []
end = time.monotonic() + 60
i = 0
while not os.path.exists(done) and time.monotonic() < end:
    for what, fn in (("stat", lambda: os.stat("%s/small%d" % (m, i % 20))),
                     ("listdir", lambda: os.listdir(m + "/dir")),
                     ("read", lambda: open("%s/small%d" % (m, i % 20), "rb").read())):
        t = time.monotonic()
        try:
            fn()
        except OSError as e:
            print("error", what, ename(e))
        d = time.monotonic() - t
        lat.append(d)
        if d > maxlat:
            slow.append("%s %.3fs" % (what, d))
    i += 1
    time.sleep(0.01)
lat.sort()
print("calls %d median %.4fs p99 %.4fs max %.4fs" % (len(lat), lat[len(lat) // 2], lat[len(lat) * 99 // 100], lat[-1]))
print("slow", len(slow), " ".join(slow[:10]))' "$M" "$DONE" "$MAX_LAT"
prober=$SEC_BG_PID
sleep 0.5

sec_bg alice "$UF_TMP/copyup.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
t = time.monotonic()
try:
    fd = os.open(A[0], os.O_WRONLY)
    os.close(fd)
    r = "OK"
except OSError as e:
    r = ename(e)
print("copy-up", r, "%.2fs" % (time.monotonic() - t))
open(A[1], "w").close()' "$M/big" "$DONE"
copier=$SEC_BG_PID
sleep 0.5

# the same file, while its copy-up runs
TIMED='t=$(date +%s%N); "$@" >/dev/null 2>&1; rc=$?; echo "$1 rc=$rc $(( ($(date +%s%N) - t) / 1000000 ))ms"'
sec_bg bob "$UF_TMP/same-touch.log" bash -c "$TIMED" _ touch "$M/big"
same1=$SEC_BG_PID
sec_bg bob "$UF_TMP/same-trunc.log" bash -c "$TIMED" _ "$UF_PYTHON" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC))' "$M/big"
same2=$SEC_BG_PID
sec_bg alice "$UF_TMP/same-chmod.log" bash -c "$TIMED" _ chmod 0666 "$M/big"
same3=$SEC_BG_PID

sec_wait "$copier" 90 "alice's copy-up of the big file"
sec_wait "$prober" 90 "bob's calls on other files"
for p in "$same1" "$same2" "$same3"; do
	sec_wait "$p" 60 "a call on the big file during its copy-up"
done
uf_log "$(cat "$UF_TMP/copyup.log")"
uf_log "bob, other files: $(tr '\n' ' ' <"$UF_TMP/prober.log")"
uf_log "same file: $(cat "$UF_TMP"/same-*.log | tr '\n' ' ')"
uf_check_eq "alice's open O_WRONLY of the big file (the copy-up)" "OK" "$(awk '{ print $2 }' "$UF_TMP/copyup.log")"
uf_check_eq "bob's calls on other files: no errors" "" "$(grep '^error' "$UF_TMP/prober.log")"
uf_check_eq "bob's calls on other files: none slower than ${MAX_LAT}s during the copy-up" "slow 0" \
	"$(grep '^slow' "$UF_TMP/prober.log" | sed 's/ *$//')"
uf_check_eq "touch, open O_TRUNC and chmod of the big file during its copy-up succeed" \
	"rc=0 rc=0 rc=0" "$(cat "$UF_TMP"/same-*.log | awk '{ print $2 }' | tr '\n' ' ' | sed 's/ $//')"
size=$(timeout 10 stat -c %s "$M/big")
case $size in
0 | $((BIG_MB * 1048576 + 3))) uf_pass "the big file is truncated or whole ($size bytes)" ;;
*) uf_fail "the big file is truncated or whole" "size: $size" ;;
esac
sec_after "slow copy-up"
sec_umount
uf_finish
