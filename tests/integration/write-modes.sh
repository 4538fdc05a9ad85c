#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The kernel's setuid/setgid and file capability rules through a union
# mounted -o allow_other, as root and as ufsec-alice and ufsec-bob (created
# if missing): creating with the bits (open, mkfifo, mkdir, in a setgid
# dir), open(O_TRUNC), creat(), truncate() and write() by callers without
# CAP_FSETID (setgid with and without group execute, in and out of the
# file's group, the owner too), chown (clears them even by root), copy-up
# keeping them, and a lower on a nosuid tmpfs whose setuid-root file and
# capabilities a copy-up must not make live. Each case is checked in the
# view, in the upper on disk, and against the kernel overlayfs doing the
# same on a copy of the branches (except the nosuid copy-up, where the
# kernel keeps the bits: docs/security.md, "Mode rules"). In a user
# namespace, copy-up of ids it cannot map fails with EOVERFLOW, as the
# kernel's (the FUSE kernel side refuses an unmapped owner's file earlier,
# with EACCES). Lowers unchanged.
# Usage: write-modes.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_overlay
uf_require_cmd setpriv setfattr getfattr useradd
uf_tmp

for u in ufsec-alice ufsec-bob; do
	id -u "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u" ||
		uf_skip "cannot create user $u"
done
AU=$(id -u ufsec-alice) AG=$(id -g ufsec-alice)
BU=$(id -u ufsec-bob) BG=$(id -g ufsec-bob)
CAP=0x0100000200200000000000000000000000000000 # cap_net_raw+ep

# ---------------------------------------------------------------- branches
# One lower tree, copied for unionfuse (F) and the kernel (K).
L0=$UF_TMP/lower0
mkdir -p "$L0"
(
	set -e
	cd "$L0"
	mkdir pub sgd sgown
	chmod 1777 pub
	chown "0:$BG" sgd
	chmod 2777 sgd
	f() { # NAME MODE [OWNER]
		printf 'data of %s\n' "$1" >"$1"
		chown "${3:-0:0}" "$1"
		chmod "$2" "$1"
	}
	f t4777 4777; f t2777 2777; f t2666 2666; f t2666b 2666 "0:$BG"; f t6777 6777
	f c6777 6777; f r6777 6777; f own6755 6755 "$AU:$AG"
	f k4777 4777; f k2666 2666
	f w4777 4777; f w2666 2666; f w2666b 2666 "0:$BG"; f w2767 2767
	f capw 0777; f capr 0777; f capt 0777
	setfattr -n security.capability -v "$CAP" capw capr capt
	f o6777 6777; f o2666 2666; f o4755 4755; f ocap 0755; f og6775 6775 "$AU:$AG"
	setfattr -n security.capability -v "$CAP" ocap
	f u4755 4755; f u2755 2755; f ucap 0755
	f n0777 0777; f d4777 4777; f d2767 2767; f dcap 0777
	setfattr -n security.capability -v "$CAP" dcap
	f b4777 4777; f b2767 2767; f bcap 0777
	setfattr -n security.capability -v "$CAP" bcap
	setfattr -n security.capability -v "$CAP" ucap
	chown "$AU:$AG" sgown
	chmod 2775 sgown
)
for s in F K; do
	mkdir -p "$UF_TMP/$s/u" "$UF_TMP/$s/w" "$UF_TMP/$s/m"
	cp -a "$L0" "$UF_TMP/$s/l"
	chmod 0777 "$UF_TMP/$s/u"
done
FL=$UF_TMP/F/l FU=$UF_TMP/F/u FM=$UF_TMP/F/m
KL=$UF_TMP/K/l KU=$UF_TMP/K/u KM=$UF_TMP/K/m
wr_save_lowers "$FL" "$KL"

uf_mount "$BIN" "$FL:$FU" "$FM" -o allow_other || uf_finish
ovl_mount "$KL" "$KU" "$UF_TMP/K/w" "$KM"

# ---------------------------------------------------------------- helpers
# MODEOP OP PATH [ARG]: do OP on PATH, then print "MODE UID:GID cap|nocap".
MODEOP='
op, path = A[0], A[1]
arg = A[2] if len(A) > 2 else "0"
os.umask(0o022)
if op == "create":
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, int(arg, 8)))
elif op == "mkfifo":
    os.mkfifo(path, int(arg, 8))
elif op == "mkdir":
    os.mkdir(path, int(arg, 8))
elif op == "otrunc":
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
elif op == "creat":
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
elif op == "truncate":
    os.truncate(path, 1)
elif op == "write":
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"+")
    os.close(fd)
elif op == "write3":
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    for _ in range(3):
        os.write(fd, b"+")
    os.close(fd)
elif op == "chmod":
    os.chmod(path, int(arg, 8))
elif op == "setcap":
    os.setxattr(path, "security.capability", bytes.fromhex(arg[2:]))
elif op == "chown":
    u, g = arg.split(":")
    os.chown(path, int(u), int(g))
elif op == "touch":
    os.utime(path)
s = os.lstat(path)
try:
    os.getxattr(path, "security.capability", follow_symlinks=False)
    cap = "cap"
except OSError:
    cap = "nocap"
print("%o %d:%d %s" % (stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, cap))'

# run_as WHO CMD...: root, alice, bob, or alice+bob (alice also in bob's group)
run_as() {
	local who=$1
	shift
	case $who in
	root) "$@" ;;
	alice) setpriv --reuid="$AU" --regid="$AG" --clear-groups -- "$@" ;;
	alice+bob) setpriv --reuid="$AU" --regid="$AG" --groups="$BG" -- "$@" ;;
	bob) setpriv --reuid="$BU" --regid="$BG" --clear-groups -- "$@" ;;
	esac
}

modeop() { # WHO OP PATH [ARG]
	local who=$1
	shift
	run_as "$who" "$UF_PYTHON" -c "$WR_PY_PRELUDE
try:
$(printf '%s\n' "$MODEOP" | sed 's/^/    /')
except OSError as _e:
    print(errno.errorcode.get(_e.errno, str(_e.errno)))
" "$@" 2>&1
}

# on-disk "MODE UID:GID cap|nocap" of PATH
disk() {
	local c=nocap
	getfattr -h --absolute-names -n security.capability "$1" >/dev/null 2>&1 && c=cap
	echo "$(stat -c '%a %u:%g' "$1") $c"
}

# mcheck DESC WHO OP NAME ARG EXPECTED: OP as WHO on NAME through the union
# and the kernel overlayfs: the union shows EXPECTED, the upper holds it,
# and the kernel shows the same.
mcheck() {
	local desc=$1 who=$2 op=$3 name=$4 arg=$5 exp=$6 f k
	f=$(modeop "$who" "$op" "$FM/$name" "$arg")
	k=$(modeop "$who" "$op" "$KM/$name" "$arg")
	uf_check_eq "$desc" "$exp" "$f" "as $who: $op $FM/$name $arg"
	uf_check_eq "$desc: upper" "$exp" "$(disk "$FU/$name")" "stat $FU/$name"
	uf_check_eq "$desc: as the kernel overlayfs" "$k" "$f" "as $who: $op {$KM,$FM}/$name $arg"
}

# ---------------------------------------------------------------- create
uf_log "creating with setuid/setgid"
mcheck "alice creates 04755" alice create pub/a1 4755 "4755 $AU:$AG nocap"
mcheck "alice creates 02755" alice create pub/a2 2755 "2755 $AU:$AG nocap"
mcheck "alice creates 06777 (umask 022)" alice create pub/a3 6777 "6755 $AU:$AG nocap"
mcheck "alice mkfifo 04755" alice mkfifo pub/a4 4755 "4755 $AU:$AG nocap"
mcheck "root mkfifo 06644" root mkfifo pub/r1 6644 "6644 0:0 nocap"
mcheck "root creates 04755" root create pub/r2 4755 "4755 0:0 nocap"
mcheck "alice mkdir 02755: the kernel drops S_ISGID of mkdir" alice mkdir pub/a5 2755 "755 $AU:$AG nocap"
mcheck "alice mkdir 01777: sticky kept" alice mkdir pub/a6 1777 "1755 $AU:$AG nocap"
mcheck "alice creates 02755 in bob's setgid dir, not in the group: S_ISGID dropped" \
	alice create sgd/a7 2755 "755 $AU:$BG nocap"
mcheck "alice in bob's group creates 02755 there: kept" alice+bob create sgd/a8 2755 "2755 $AU:$BG nocap"
mcheck "alice mkdir in bob's setgid dir: inherits S_ISGID and the group" alice mkdir sgd/a9 0755 "2755 $AU:$BG nocap"
mcheck "root creates 02755 in alice's setgid dir" root create sgown/r3 2755 "2755 0:$AG nocap"

# ---------------------------------------------------------------- truncate
uf_log "open(O_TRUNC), creat(), truncate() without CAP_FSETID"
mcheck "alice open(O_TRUNC) root's 04777" alice otrunc t4777 - "777 0:0 nocap"
mcheck "alice open(O_TRUNC) root's 02777" alice otrunc t2777 - "777 0:0 nocap"
mcheck "alice open(O_TRUNC) 02666 of group root: S_ISGID dropped (not in the group)" \
	alice otrunc t2666 - "666 0:0 nocap"
mcheck "alice in bob's group open(O_TRUNC) 02666 of group bob: S_ISGID kept" \
	alice+bob otrunc t2666b - "2666 0:$BG nocap"
mcheck "root open(O_TRUNC) 06777: kept (CAP_FSETID)" root otrunc r6777 - "6777 0:0 nocap"
mcheck "alice open(O_TRUNC) her own 06755: the owner loses them too" alice otrunc own6755 - "755 $AU:$AG nocap"
mcheck "alice creat() over root's 06777" alice creat c6777 - "777 0:0 nocap"
mcheck "alice open(O_TRUNC) a file with security.capability: removed" alice otrunc capt - "777 0:0 nocap"
mcheck "alice truncate() root's 04777" alice truncate k4777 - "777 0:0 nocap"
mcheck "alice truncate() 02666 of group root" alice truncate k2666 - "666 0:0 nocap"

# ---------------------------------------------------------------- write
uf_log "write() without CAP_FSETID"
mcheck "alice writes root's 04777" alice write w4777 - "777 0:0 nocap"
mcheck "alice writes root's 02767" alice write w2767 - "767 0:0 nocap"
mcheck "alice writes 02666 of group root: S_ISGID dropped" alice write w2666 - "666 0:0 nocap"
mcheck "alice in bob's group writes 02666 of group bob: kept" alice+bob write w2666b - "2666 0:$BG nocap"
mcheck "alice writes a file with security.capability: removed" alice write capw - "777 0:0 nocap"
mcheck "root writes a file with security.capability: removed too" root write capr - "777 0:0 nocap"

# ---------------------------------------------------------------- chown
uf_log "chown"
mcheck "root chown 06777: both bits go" root chown o6777 "5:5" "777 5:5 nocap"
mcheck "root chown 02666 (no group execute): S_ISGID kept" root chown o2666 "5:5" "2666 5:5 nocap"
mcheck "root chown -1:-1 of 04755: S_ISUID goes" root chown o4755 "-1:-1" "755 0:0 nocap"
mcheck "root chown of a file with security.capability: removed" root chown ocap "0:0" "755 0:0 nocap"
mcheck "alice chgrp her 06775 to bob's group" alice+bob chown og6775 "-1:$BG" "775 $AU:$BG nocap"
mcheck "root chown of a setgid dir: kept" root chown sgd "7:$BG" "2777 7:$BG nocap"

# ---------------------------------------------------------------- S_NOSEC
# With FUSE_HANDLE_KILLPRIV_V2 (-o killpriv=on, the default) the kernel
# stops checking an inode before each write once a write found nothing to
# kill (S_NOSEC), until its attributes change; passthrough writes (the
# file is in the upper) never reach the daemon. Each change below must
# make the next write check again.
uf_log "repeated writes after chmod u+s, g+s and a new capability"
mcheck "alice writes root's 0777 three times" alice write3 n0777 - "777 0:0 nocap"
mcheck "root sets 04777 on it" root chmod n0777 4777 "4777 0:0 nocap"
mcheck "alice writes it again: S_ISUID goes" alice write3 n0777 - "777 0:0 nocap"
mcheck "root sets 02777" root chmod n0777 2777 "2777 0:0 nocap"
mcheck "alice writes it again: S_ISGID goes" alice write3 n0777 - "777 0:0 nocap"
mcheck "root gives it a capability" root setcap n0777 "$CAP" "777 0:0 cap"
mcheck "alice writes it again: the capability goes" alice write3 n0777 - "777 0:0 nocap"
mcheck "root gives it one again and writes: it goes" root setcap n0777 "$CAP" "777 0:0 cap"
mcheck "...root's write drops it too" root write3 n0777 - "777 0:0 nocap"

# ---------------------------------------------------------------- copy-up
uf_log "copy-up keeps setuid/setgid/capabilities from a suid lower"
mcheck "touch copies root's 04755 up as it is" root touch u4755 - "4755 0:0 nocap"
mcheck "touch copies 02755 up as it is" root touch u2755 - "2755 0:0 nocap"
mcheck "touch copies security.capability up" root touch ucap - "755 0:0 cap"

uf_umount "$FM"
umount "$KM"

# Writes served by the daemon (no passthrough): under KILLPRIV_V2 they carry
# FUSE_WRITE_KILL_SUIDGID and the daemon drops the bits itself.
uf_log "write() through the daemon (-o passthrough=off)"
uf_mount "$BIN" "$FL:$FU" "$FM" -o allow_other,passthrough=off || uf_finish
ovl_mount "$KL" "$KU" "$UF_TMP/K/w" "$KM"
mcheck "alice writes root's 04777 through the daemon" alice write3 d4777 - "777 0:0 nocap"
mcheck "alice writes root's 02767 through the daemon" alice write3 d2767 - "767 0:0 nocap"
mcheck "alice writes a file with a capability through the daemon" alice write3 dcap - "777 0:0 nocap"
mcheck "root sets 04777 again" root chmod d4777 4777 "4777 0:0 nocap"
mcheck "alice writes it again" alice write3 d4777 - "777 0:0 nocap"
uf_umount "$FM"
umount "$KM"

# The writeback cache (-o writeback, for many small writes on libfuse 3.14):
# writes go to the page cache; only the ones that have something to kill
# are sent through to the daemon at once (FUSE_WRITE_KILL_SUIDGID).
uf_log "write() with the writeback cache (-o writeback)"
uf_mount "$BIN" "$FL:$FU" "$FM" -o allow_other,writeback || uf_finish
ovl_mount "$KL" "$KU" "$UF_TMP/K/w" "$KM"
mcheck "alice writes root's 04777 through the writeback cache" alice write3 b4777 - "777 0:0 nocap"
mcheck "alice writes root's 02767 through the writeback cache" alice write3 b2767 - "767 0:0 nocap"
mcheck "alice writes a file with a capability through the writeback cache" alice write3 bcap - "777 0:0 nocap"
mcheck "root sets 04777 again" root chmod b4777 4777 "4777 0:0 nocap"
mcheck "alice writes it again" alice write3 b4777 - "777 0:0 nocap"
mcheck "root gives it a capability" root setcap b4777 "$CAP" "777 0:0 cap"
mcheck "alice writes it again: the capability goes" alice write3 b4777 - "777 0:0 nocap"
uf_umount "$FM"
umount "$KM"
wr_check_lowers

# ---------------------------------------------------------------- nosuid
# A lower on a nosuid mount: its setuid-root file and capabilities are inert
# there. The union (and here the kernel overlayfs) is mounted suid, so a
# copy in the upper, or the lower's file seen through the union, would be
# live: unionfuse strips the bits in both.
uf_log "a lower on a nosuid tmpfs"
N=$UF_TMP/nosuid
mkdir -p "$N/l" "$N/u" "$N/m" "$N/ku" "$N/kw" "$N/km"
mount -t tmpfs -o nosuid,mode=0755 tmpfs "$N/l" || uf_skip "cannot mount a tmpfs"
(
	set -e
	cd "$N/l"
	install -m 4755 "$(command -v id)" sid
	install -m 2755 "$(command -v id)" gid
	install -m 4777 "$(command -v id)" sidw
	install -m 0755 "$(command -v id)" cap
	setfattr -n security.capability -v "$CAP" cap
	mkdir sgd
	chmod 2755 sgd
)
chmod 0777 "$N/u" "$N/ku"
wr_save_lowers "$N/l"
uf_mount "$BIN" "$N/l:$N/u" "$N/m" -o allow_other,suid || uf_finish
ovl_mount "$N/l" "$N/ku" "$N/kw" "$N/km"
# Unlike the kernel overlayfs (which shows 4755 2755 4777 and runs them as
# root through a suid mount), the inert bits stay inert in the view too.
uf_check_eq "before copy-up the union shows no setuid/setgid of the nosuid lower's files" \
	"755 755 777 2755" \
	"$(stat -c %a "$N/m/sid" "$N/m/gid" "$N/m/sidw" "$N/m/sgd" | paste -sd" ")" "stat $N/m/..."
uf_check_eq "...nor its file capability" "none" \
	"$(getfattr -h --absolute-names -n security.capability "$N/m/cap" >/dev/null 2>&1 && echo shown || echo none)"
uf_check_eq "alice runs the lower's setuid-root file through the suid union: no root" "$AU" \
	"$(run_as alice "$N/m/sid" -u)" "as alice: $N/m/sid -u"
uf_log "the kernel overlayfs shows $(stat -c %a "$N/km/sid" "$N/km/gid" "$N/km/sidw" | paste -sd" ")"
for m in m km; do
	touch "$N/$m/sid" "$N/$m/gid" "$N/$m/cap" "$N/$m/sgd"
	run_as alice "$UF_PYTHON" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND); os.close(fd)' "$N/$m/sidw"
done
three="755 0:0 nocap
755 0:0 nocap
755 0:0 nocap"
uf_check_eq "copy-up by touch: no setuid/setgid/capability in the view" "$three" \
	"$(for f in sid gid cap; do disk "$N/m/$f"; done)" "stat $N/m/{sid,gid,cap}"
uf_check_eq "...nor in the upper" "$three" "$(for f in sid gid cap; do disk "$N/u/$f"; done)" \
	"stat $N/u/{sid,gid,cap}"
uf_check_out "copy-up by alice opening for write: no setuid either" "777 0:0 nocap" disk "$N/u/sidw"
uf_check_out "a setgid dir keeps S_ISGID (inheritance, no privilege)" "2755" stat -c %a "$N/u/sgd"
r=$(run_as alice "$N/m/sid" -u)
uf_check_eq "alice runs the union's copy: no root" "$AU" "$r" "as alice: $N/m/sid -u"
uf_log "the kernel overlayfs keeps them: $(cd "$N/ku" && stat -c '%n %a' sid gid | tr '\n' ' ')caps: $(getfattr -h --absolute-names -n security.capability "$N/ku/cap" >/dev/null 2>&1 && echo kept || echo dropped); alice runs its copy as euid $(run_as alice "$N/km/sid" -u)"
uf_umount "$N/m"
umount "$N/km"
wr_check_lowers "the nosuid lower is unchanged"
umount "$N/l"

# ---------------------------------------------------------------- unmapped ids
# In a user namespace that maps only root, id 1000 stats as the overflow
# id: the kernel's copy-up refuses it with EOVERFLOW (ovl_copy_up_one), and
# so must ours (before: EINVAL from chown). The FUSE kernel side refuses
# changes to such an object itself (EACCES), so ours shows when a parent
# has to be copied up. Both sides run in one namespace: the daemon (-f,
# killed by pid there) and the kernel overlayfs.
uf_log "copy-up of ids the daemon's user namespace cannot map"
X=$UF_TMP/userns
mkdir -p "$X/l" "$X/u" "$X/m" "$X/ku" "$X/kw" "$X/km"
mkdir -p "$X/l/d1000/sub"
chown 1000:1000 "$X/l/d1000"
chmod 0777 "$X/l/d1000" "$X/l/d1000/sub"
printf f >"$X/l/f1000"
chown 1000:1000 "$X/l/f1000"
printf r >"$X/l/froot"
chmod 0666 "$X/l/f1000" "$X/l/froot"
chmod 0777 "$X" "$X/u" "$X/ku" "$X/kw"
wr_save_lowers "$X/l"
cat >"$X/in.sh" <<'EOF2'
X=$1 BIN=$2 PY=$3
"$BIN" -f -o userxattr "$X/l:$X/u" "$X/m" 2>"$X/daemon.err" &
pid=$!
trap 'umount "$X/km" 2>/dev/null; umount "$X/m" 2>/dev/null; kill $pid 2>/dev/null; wait $pid' EXIT
for _ in $(seq 100); do mountpoint -q "$X/m" && break; sleep 0.1; done
mount -t overlay overlay -o "lowerdir=$X/l,upperdir=$X/ku,workdir=$X/kw,userxattr" "$X/km" || exit 3
# touch a file; create in a dir whose parent must be copied up too
for f in f1000 froot d1000/sub/new; do
	for m in m km; do
		printf '%s %s ' "$f" "$m"
		"$PY" -c 'import os, sys, errno
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)); os.utime(sys.argv[1]); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$X/$m/$f"
	done
done
EOF2
if out=$(timeout 60 unshare -U -r -m --propagation private bash "$X/in.sh" "$X" "$BIN" "$UF_PYTHON" 2>&1); then
	uf_check_eq "copy-ups in a user namespace mapping only root: union and kernel" \
		"f1000 m EACCES
f1000 km EOVERFLOW
froot m OK
froot km OK
d1000/sub/new m EOVERFLOW
d1000/sub/new km EOVERFLOW" "$out" "unshare -U -r -m bash $X/in.sh"
	uf_check_out "nothing with an unmapped id was copied up" "froot" ls "$X/u"
	wr_check_lowers "the lower is unchanged"
elif [ "${CI:-}" = true ]; then
	uf_fail "user namespace with a FUSE mount" "actual: $out"
else
	uf_log "SKIP: no user namespace with a FUSE mount and overlayfs here: $out"
fi

uf_finish
