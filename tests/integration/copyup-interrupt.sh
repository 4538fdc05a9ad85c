#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A copy-up of a big file stops when its request is interrupted: a signal
# to the caller (a handled one, as Ctrl-C in a program that catches it, and
# a fatal one) makes the kernel send FUSE_INTERRUPT, the data copy stops
# within a chunk, the caller gets EINTR, and nothing is left in the upper.
# Then the same copy-up, not interrupted, completes.
# Usage: copyup-interrupt.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l" "$T/u" "$M"
# Big enough that its copy takes seconds here, dense (no holes to skip).
head -c $((1536 * 1024 * 1024)) /dev/urandom >"$T/l/big" 2>/dev/null ||
	uf_skip "cannot write a 1.5 GiB file in $T"
sum_before=$(cksum <"$T/l/big")
uf_mount "$BIN" "$T/l:$T/u" "$M" || uf_finish

# A caller that handles SIGUSR1 by raising: the open fails with the
# handler's exception (the syscall returned EINTR), quickly.
cat >"$UF_TMP/open.py" <<'PY'
import os, signal, sys, time
class Stop(Exception):
    pass
def handler(sig, frame):
    raise Stop()
signal.signal(signal.SIGUSR1, handler)
t = time.time()
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
    print("opened")
except Stop:
    print("interrupted after %.1f s" % (time.time() - t), file=sys.stderr)
    print("EINTR")
PY
"$UF_PYTHON" "$UF_TMP/open.py" "$M/big" >"$UF_TMP/out" 2>"$UF_TMP/err" &
pid=$!
sleep 1
kill -USR1 "$pid"
t0=$(date +%s%N)
wait "$pid"
ms=$((($(date +%s%N) - t0) / 1000000))
uf_log "$(cat "$UF_TMP/err") (answer $ms ms after the signal)"
uf_check_eq "a handled signal interrupts the copy-up: the open fails" EINTR "$(cat "$UF_TMP/out")"
uf_check "...within 3 s of the signal ($ms ms)" test "$ms" -lt 3000
sleep 0.5
uf_check_eq "...and nothing is left in the upper" "" "$(ls -A "$T/u")"

# A fatal signal (SIGTERM, default action): the copy stops too.
"$UF_PYTHON" -c 'import os, sys; os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)' "$M/big" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid" 2>/dev/null
sleep 1
uf_check_eq "a fatal signal stops the copy-up: nothing in the upper" "" "$(ls -A "$T/u")"

# Not interrupted, it completes.
uf_check "without a signal the copy-up completes" \
	"$UF_PYTHON" -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND))' "$M/big"
uf_check_eq "...the upper holds the whole copy" "$sum_before" "$(cksum <"$T/u/big")"
uf_umount "$M"
uf_check_eq "the lower is untouched" "$sum_before" "$(cksum <"$T/l/big")"
uf_finish
