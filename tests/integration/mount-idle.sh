#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# -o idle_timeout=SECONDS: the daemon unmounts itself after SECONDS with no
# request and nothing open. An open file, an open directory, an mmap and a
# process whose working directory is inside keep it mounted (the last one
# because the unmount is a plain one, which the kernel refuses while the
# mount is in use); once they are gone it unmounts, says so in one line, and
# the daemon exits 0. Without the option it stays.
# Usage: mount-idle.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
mkdir -p "$L/d" "$U" "$M"
printf 'lower\n' >"$L/f"

# still_mounted_after SECONDS: sleep, then is $M still our FUSE mount?
still_mounted_after() {
	sleep "$1"
	uf_is_mounted "$M"
}

# fg_mount OPTS...: the daemon in the foreground (its log on stderr).
fg_mount() {
	timeout 120 "$BIN" -f "$@" "$L:$U" "$M" 2>"$UF_TMP/idle.err" &
	FG=$!
	uf_wait_mounted "$M" 10 || uf_fail "mount $*" "$(cat "$UF_TMP/idle.err")"
}

# --- plain: unmounts itself about a second after the last request
fg_mount -o idle_timeout=1
ls "$M" >/dev/null
uf_check "idle_timeout=1: mounted right after a request" uf_is_mounted "$M"
uf_check "idle_timeout=1: unmounted within 4 s" uf_wait_unmounted "$M" 4
wait "$FG"
uf_check_eq "the daemon exits 0" "0" "$?"
uf_check_out "one log line says why" "unionfuse: idle for 1 s: unmounted $M" cat "$UF_TMP/idle.err"

# --- what keeps it mounted
fg_mount -o idle_timeout=1
exec 3<"$M/f"
if still_mounted_after 2.5; then uf_pass "an open file keeps it mounted"; else uf_fail "an open file keeps it mounted"; fi
exec 3<&-
uf_check "closed: unmounted" uf_wait_unmounted "$M" 4
wait "$FG"

fg_mount -o idle_timeout=1
exec 3<"$M/d"
if still_mounted_after 2.5; then uf_pass "an open directory keeps it mounted"; else uf_fail "an open directory keeps it mounted"; fi
exec 3<&-
uf_check "closed: unmounted" uf_wait_unmounted "$M" 4
wait "$FG"

fg_mount -o idle_timeout=1
"$UF_PYTHON" -c 'import mmap, sys, time
f = open(sys.argv[1], "rb"); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); f.close()
time.sleep(3); print(m[:5].decode())' "$M/f" >"$UF_TMP/mmap.out" &
mm=$!
if still_mounted_after 2.5; then uf_pass "a mapping of a closed file keeps it mounted"; else uf_fail "a mapping of a closed file keeps it mounted"; fi
wait "$mm"
uf_check_out "and reads through it" "lower" cat "$UF_TMP/mmap.out"
uf_check "unmapped: unmounted" uf_wait_unmounted "$M" 4
wait "$FG"

fg_mount -o idle_timeout=1
(cd "$M/d" && sleep 3) &
cw=$!
if still_mounted_after 2.5; then uf_pass "a working directory inside keeps it mounted"; else uf_fail "a working directory inside keeps it mounted"; fi
wait "$cw"
uf_check "cwd left: unmounted" uf_wait_unmounted "$M" 4
wait "$FG"
uf_check_eq "the kernel's refusals are not logged; the unmount is, once" "1" "$(wc -l <"$UF_TMP/idle.err")"

# --- requests keep it: a reader every 0.4 s for 2.5 s
fg_mount -o idle_timeout=1
for _ in 1 2 3 4 5 6; do stat "$M/f" >/dev/null; cat "$M/f" >/dev/null; sleep 0.4; done
uf_check "requests every 0.4 s keep it mounted" uf_is_mounted "$M"
uf_check "then it goes" uf_wait_unmounted "$M" 4
wait "$FG"

# --- without the option it stays; bad values are refused
if uf_mount "$BIN" "$L:$U" "$M"; then
	if still_mounted_after 2; then uf_pass "no idle_timeout: stays mounted"; else uf_fail "no idle_timeout: stays mounted"; fi
	uf_umount "$M"
fi
uf_check_out "a bad idle_timeout is refused" \
	"unionfuse: bad idle_timeout 'soon': want seconds >= 0 [exit 1]" "$BIN" -o idle_timeout=soon "$L:$U" "$M"
uf_check_eq "nothing mounted at the end" "" "$(uf_mounts_under "$UF_TMP")"
uf_finish
