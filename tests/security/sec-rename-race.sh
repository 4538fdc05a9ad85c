#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A name in a shared lower changes under an object alice holds. The lower
# has a 1777 dir shared/ with alice's 0644 file a, bob's 0644 file c and
# bob's 0600 secret (a unique marker). The kernel overlayfs keeps a
# reference to the real inode behind every object, so what alice opened
# stays what she opened; a daemon that re-finds the object by name opens
# whatever holds the name now, as root.
#
#   O_PATH: alice opens MNT/shared/a with O_PATH, root renames bob's secret
#     over lower a, alice opens /proc/self/fd/N for reading (and then, by
#     path, cat MNT/shared/a). The same with bob himself renaming his secret
#     over his public file c (the "write a temp file, rename it over"
#     pattern) while alice holds c with O_PATH.
#   copy-up window: for ~15 s alice opens names a<i> O_RDWR through the
#     union (each a copy-up) and reads through the fd, while root flips the
#     lower names near alice's position between a fresh alice file and a
#     fresh copy of bob's secret.
#
# Must hold: nothing alice reads (through fds, by path, or directly in her
# own upper) contains bob's secret; the upper never holds the secret under
# a name alice can read; a lower branch nobody touches stays unchanged; the
# daemon lives and no operation hangs.
# Usage: sec-rename-race.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
T=$UF_TMP/t
BASE=$T/base L=$T/lower U=$T/upper M=$SEC_MNT S=$T/src
mkdir -p "$BASE" "$L/shared" "$U" "$S"
chmod 1777 "$L/shared"
chmod 0711 "$S"
MARK="SECRET-BOBLOWER-$RANDOM$RANDOM$RANDOM"
# shellcheck disable=SC2034 # read by sec_marks
SEC_EXTRA_MARKS=$MARK
printf 'canary' >"$BASE/canary"
printf 'base\n' >"$BASE/base-file"
mk() { # mk PATH OWNER MODE CONTENT
	printf '%s\n' "$4" >"$1"
	chown "$2" "$1"
	chmod "$3" "$1"
}
mk "$L/shared/a" "$SEC_ALICE" 0644 "$SEC_ALICE_DATA"
mk "$L/shared/c" "$SEC_BOB" 0644 "BOB-PUBLIC, longer than any secret marker, so a read would show one"
mk "$L/shared/b" "$SEC_BOB" 0600 "$MARK"
mk "$S/bob" "$SEC_BOB" 0600 "$MARK"
chown "$SEC_ALICE" "$U"
wr_save_lowers "$BASE"
sec_mount "$BASE:$L:$U" || uf_finish

# ------------------------------------------------------- O_PATH, then rename
# opath_reopen NAME RENAMER RENAME-CMD...: alice holds MNT/shared/NAME with
# O_PATH, RENAMER runs RENAME-CMD, alice reopens /proc/self/fd/N.
opath_reopen() {
	local name=$1 who=$2
	shift 2
	rm -f "$UF_TMP/go"
	sec_bg alice "$UF_TMP/opath-$name.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
fd = os.open(A[0], os.O_PATH)
print("ready", flush=True)
end = time.monotonic() + 20
while not os.path.exists(A[1]) and time.monotonic() < end:
    time.sleep(0.01)
time.sleep(0.2)  # let the notification of the rename arrive
try:
    g = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY)
    print("reopen OK", show(os.read(g, 4096)), flush=True)
except OSError as e:
    print("reopen", ename(e), flush=True)' "$M/shared/$name" "$UF_TMP/go"
	local pid=$SEC_BG_PID
	for _ in $(seq 100); do
		grep -q ready "$UF_TMP/opath-$name.log" 2>/dev/null && break
		sleep 0.05
	done
	sec_run "$who renames over $name" "$who" "$SEC_TMO" "$@"
	[ "$SEC_RC" -eq 0 ] || uf_fail "$who renames bob's secret over lower $name" "$SEC_OUT"
	touch "$UF_TMP/go"
	sec_wait "$pid" 30 "alice reopens her O_PATH fd on $name"
	uf_log "alice: $(tr '\n' ' ' <"$UF_TMP/opath-$name.log")"
	sec_run "cat by path" alice "$SEC_TMO" cat "$M/shared/$name"
	uf_log "alice: cat MNT/shared/$name: $SEC_OUT"
	sec_after "O_PATH on $name, $who renames a secret over it, reopen"
}

opath_reopen a root mv -T "$L/shared/b" "$L/shared/a"
sec_hung || {
	mk "$L/shared/b2" "$SEC_BOB" 0600 "$MARK"
	opath_reopen c bob mv -T "$L/shared/b2" "$L/shared/c"
}

# ------------------------------------------------------- the copy-up window
SECS=${SEC_RACE_SECS:-15}
N=20000
if ! sec_hung; then
	"$UF_PYTHON" - "$L/shared" "$N" "${SEC_ALICE%:*}" "${SEC_ALICE#*:}" "$SEC_ALICE_DATA" <<'EOF'
import os, sys
d, n, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    p = "%s/a%d" % (d, i)
    with open(p, "w") as f:
        f.write(sys.argv[5] + "\n")
    os.chown(p, uid, gid)
EOF
	printf '0\n' >"$UF_TMP/progress"
	chmod 0666 "$UF_TMP/progress"
	# root flips names a<i>..a<i+7> just ahead of alice: each flip renames a
	# fresh copy of alice's file or of bob's secret over the name
	sec_bg root "$UF_TMP/racer.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
d, src, prog, end = A[0], A[1], A[2], time.monotonic() + float(A[3])
auid, agid, buid, bgid = (int(x) for x in A[4:8])
mine = (A[8] + "\n").encode()
secret = open(src, "rb").read()
flips = 0
while time.monotonic() < end:
    try:
        i = int(open(prog).read().strip() or 0)
    except ValueError:
        continue
    for j in range(i, i + 8):
        for data, uid, gid, mode in ((secret, buid, bgid, 0o600), (mine, auid, agid, 0o644)):
            t = "%s/.t%d" % (d, j)
            fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            os.write(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.close(fd)
            os.rename(t, "%s/a%d" % (d, j))
            flips += 1
print("flips", flips)' "$L/shared" "$S/bob" "$UF_TMP/progress" "$SECS" \
		"${SEC_ALICE%:*}" "${SEC_ALICE#*:}" "${SEC_BOB%:*}" "${SEC_BOB#*:}" "$SEC_ALICE_DATA"
	racer=$SEC_BG_PID
	sec_bg alice "$UF_TMP/opener.log" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
import time
d, prog, n, end = A[0], A[1], int(A[2]), time.monotonic() + float(A[3])
mine = (A[4] + "\n").encode()
pf = os.open(prog, os.O_WRONLY)
counts = {}
i = 0
while time.monotonic() < end and i < n:
    os.pwrite(pf, b"%-10d\n" % i, 0)
    time.sleep(0.0005)
    p = "%s/a%d" % (d, i)
    how = "opath" if i % 4 == 3 else "rdwr"
    try:
        if how == "opath":
            o = os.open(p, os.O_PATH)
            fd = os.open("/proc/self/fd/%d" % o, os.O_RDONLY)
            os.close(o)
        else:
            fd = os.open(p, os.O_RDWR)
        data = os.pread(fd, 4096, 0)
        os.close(fd)
        r = "OK"
        if data != mine:
            print("data", how, p, show(data), flush=True)
    except OSError as e:
        r = ename(e)
    counts[(how, r)] = counts.get((how, r), 0) + 1
    i += 1
for (how, r), c in sorted(counts.items()):
    print(how, r, c)' "$M/shared" "$UF_TMP/progress" "$N" "$SECS" "$SEC_ALICE_DATA"
	opener=$SEC_BG_PID
	sec_wait "$opener" $((SECS + 40)) "alice's opens during the rename race"
	sec_wait "$racer" $((SECS + 40)) "the lower racer"
	uf_log "racer: $(cat "$UF_TMP/racer.log")"
	uf_log "alice: $(grep -v '^data' "$UF_TMP/opener.log" | tr '\n' ',')"
	badres=$(grep -v '^data' "$UF_TMP/opener.log" | awk '$2 != "OK" && $2 != "EACCES" && $2 != "ENOENT" && $2 != "ESTALE"')
	uf_check_eq "copy-up race: alice's opens give OK, EACCES, ENOENT or ESTALE" "" "$badres"
	# what the upper holds: bob's secret only as bob's 0600 file
	leaky=$(find "$U" -type f -print0 | xargs -0 -r grep -l -F "$MARK" |
		while read -r f; do
			st=$(stat -c '%u:%g %a' "$f")
			[ "$st" = "$SEC_BOB 600" ] || echo "$f $st"
		done)
	uf_check_eq "copy-up race: the upper holds bob's secret only as his 0600 file" "" "$leaky"
	# alice reads her upper directly, and every name through the union
	sec_run "alice reads her upper" alice 30 sh -c 'cat "$1"/shared/* 2>&1 | head -c 100000' _ "$U"
	sec_run "alice reads the union" alice 30 sh -c 'cat "$1"/shared/a* 2>&1 | head -c 100000' _ "$M"
	sec_after "copy-up race (${SECS}s)"
fi

sec_umount
wr_check_lowers "untouched lower branch unchanged at the end"
uf_finish
