#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Where the daemon's messages go.  Daemonized (no -f/-d), a warning reaches
# syslog (ident "unionfuse", with its pid, facility daemon), at most
# UF_RATELIMIT_BURST (5) lines per call site however often it is triggered:
# the test runs the daemon in a private mount namespace whose /dev holds
# /dev/fuse, /dev/null and a /dev/log socket that a python listener reads.
# The trigger is hostile data in the upper: a file marked metacopy with no
# lower data, whose every lookup fails with EIO (as the kernel's) and is
# reported.  In the foreground (-f) the same warning is on stderr.  With
# -d the union traces its own decisions: the branch that answered a lookup,
# copy-ups (whole or metadata only, with bytes), whiteouts, opaque dirs,
# redirects written and followed.
# Usage: mount-logging.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd unshare setfattr
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
D=$UF_TMP/dev
mkdir -p "$T/l/d/sub" "$T/l/mv" "$T/u" "$M" "$D"
printf 'lower' >"$T/l/f"
printf 'gone' >"$T/l/rm"
head -c 100000 /dev/zero >"$T/l/big"
lower_before=$(tree_snapshot "$T/l")
# A metacopy upper file with no lower file below it (sparse, marked).
plant_metacopy() {
	truncate -s 1M "$T/u/mc" && setfattr -n trusted.overlay.metacopy "$T/u/mc"
}
plant_metacopy

# ------------------------------------------------------- daemonized: syslog
mknod -m 0666 "$D/fuse" c 10 229 && mknod -m 0666 "$D/null" c 1 3 ||
	uf_skip "cannot make device nodes in $D"
cat >"$UF_TMP/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
open(sys.argv[3], "w").close()  # ready
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PY
"$UF_PYTHON" "$UF_TMP/listen.py" "$D/log" "$UF_TMP/syslog" "$UF_TMP/ready" &
LPID=$!
for _ in $(seq 100); do [ -e "$UF_TMP/ready" ] && break; sleep 0.05; done
[ -e "$UF_TMP/ready" ] || uf_fail "syslog listener did not start"

# Everything below runs in the private namespace: the union's mount lives
# and dies there (the daemon is unmounted before the shell exits).
out=$(timeout 60 unshare -m --propagation private -- bash -c '
	set -u
	BIN=$1 D=$2 T=$3 M=$4
	mount --bind "$D" /dev || { echo "BIND FAILED"; exit 0; }
	"$BIN" "$T/l:$T/u" "$M" || { echo "MOUNT FAILED"; exit 0; }
	for i in $(seq 30); do
		stat "$M/mc" >/dev/null 2>&1 && echo "FOUND $i"
	done
	ls "$M" >/dev/null
	fusermount3 -u "$M" || umount -l "$M"
	echo DONE
' _ "$BIN" "$D" "$T" "$M" 2>&1)
sleep 0.3
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
if [ "$out" = "BIND FAILED" ]; then
	uf_skip "cannot bind-mount a private /dev"
fi
uf_check_eq "daemonized: the union mounted and the lookups of the bad metacopy failed" DONE "$out"
log=$(grep 'unionfuse\[' "$UF_TMP/syslog")
uf_check_eq "daemonized: warnings reached syslog, 5 of 30 (rate limit per call site)" 5 \
	"$(printf '%s\n' "$log" | grep -c "metacopy 'mc' with no lower data: EIO")"
uf_check_eq "daemonized: syslog lines carry facility daemon, level warning (<28>) and the pid" \
	yes "$(printf '%s\n' "$log" | head -n 1 | grep -Eq '^<28>.*unionfuse\[[0-9]+\]: metacopy' && echo yes || echo no)"
uf_check_eq "the warning is one line each: no line without the ident" "" \
	"$(grep -v 'unionfuse\[' "$UF_TMP/syslog")"

# --------------------------------------------------- foreground: stderr
rm -rf "$T/u" && mkdir "$T/u" && plant_metacopy
"$BIN" -f "$T/l:$T/u" "$M" 2>"$UF_TMP/fg.err" &
FPID=$!
if uf_wait_mounted "$M" 10; then
	stat "$M/mc" >/dev/null 2>&1
	uf_umount "$M"
fi
wait "$FPID"
uf_check_eq "foreground: the warning is on stderr" \
	"unionfuse: metacopy 'mc' with no lower data: EIO" "$(cat "$UF_TMP/fg.err")"

# ----------------------------------------------------------- -d: tracing
rm -rf "$T/u" && mkdir "$T/u"
"$BIN" -d -o metacopy=on "$T/l:$T/u" "$M" >"$UF_TMP/d.out" 2>"$UF_TMP/d.err" &
DPID=$!
if uf_wait_mounted "$M" 10; then
	cat "$M/f" >/dev/null
	printf 'x' >>"$M/f"                 # copy-up of the whole file
	chmod 600 "$M/big"                  # metadata-only copy-up
	rm "$M/rm"                          # whiteout
	mkdir "$M/new"
	mv "$M/new" "$M/d/"                 # an upper-only dir into a merged one: opaque
	mv "$M/mv" "$M/mv2"                 # a lower dir: redirect
	uf_umount "$M"
fi
wait "$DPID"
trace=$(grep '^unionfuse: ' "$UF_TMP/d.err")
expect_trace() {
	if printf '%s\n' "$trace" | grep -qF -- "$2"; then
		uf_pass "-d traces $1"
	else
		uf_fail "-d traces $1" "expected a line containing: $2" \
			"actual trace: $(printf '%s\n' "$trace" | head -n 40)"
	fi
}
expect_trace "the branch that answered a lookup" "lookup 'f': mode 0100644 in branch 1 ($T/l)"
expect_trace "a lookup that found nothing" "lookup 'new': No such file or directory"
expect_trace "a whole copy-up with its size" "copy-up 'f' (mode 0100644) from branch 1: whole, 5 bytes"
expect_trace "a metadata-only copy-up" "copy-up 'big' (mode 0100644) from branch 1: metadata only, 0 bytes"
expect_trace "a whiteout" "unlink 'rm': whiteout created in the upper: 0"
expect_trace "an opaque dir" "made opaque: it moves into a merged dir"
expect_trace "a redirect written" "rename: redirect 'mv' written on the moving dir: 0"
expect_trace "the whiteout a rename leaves" "rename 'mv' -> 'mv2': whiteout left at the old name: 0"

# The redirect is followed after a remount.
"$BIN" -d -o metacopy=on "$T/l:$T/u" "$M" 2>"$UF_TMP/d2.err" &
DPID=$!
if uf_wait_mounted "$M" 10; then
	ls "$M/mv2" >/dev/null
	uf_umount "$M"
fi
wait "$DPID"
trace=$(grep '^unionfuse: ' "$UF_TMP/d2.err")
expect_trace "a redirect followed" "lookup 'mv2': followed redirect 'mv' (1 lower dirs)"

uf_check_eq "the lower is unchanged" "$lower_before" "$(tree_snapshot "$T/l")"
uf_finish
