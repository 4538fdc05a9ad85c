#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Attributes and permissions through a union (mounted -o allow_other so user
# nobody can reach it): chmod, chown (clears setuid), lchown of a symlink,
# utimensat (ns, UTIME_NOW, UTIME_OMIT), setxattr/removexattr (flags, the
# a user's trusted.overlay.* names stored escaped, user.overlay.* as data), EACCES/EPERM for
# nobody on a 0700 root dir and a 0644 root file (and no copy-up then),
# files nobody creates are nobody's, a sticky dir, setgid dir inheritance,
# a write by a non-owner clears setuid/setgid.  Checks the view, the upper,
# and that no lower changed.
# Usage: write-perms.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr setfattr setpriv
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
B1=$T/b1 B2=$T/b2 U=$T/u
mkdir -p "$B1" "$B2" "$U" "$M"
MTIME='2004-05-06 07:08:09.987654321'
(
	set -e
	cd "$B1"
	for f in pmode pown ut1 ut2 ut3 xa xrm xflags rootf wwf; do
		printf '%s' "$f" >"$f"
		touch -m -d "$MTIME" "$f"
	done
	chmod 0666 wwf
	setfattr -n user.color -v blue xrm
	setfattr -n user.keep -v k xrm
	setfattr -n user.old -v o xflags
	ln -s pmode sym
	mkdir -p secret merged pub sg odir
	chmod 0700 secret
	printf 'secret' >secret/f
	printf 'm' >merged/m
	chmod 1777 pub
	printf 'root owned' >pub/rootowned
	chown 0:1234 sg
	chmod 2775 sg
	printf 's' >suidw
	chmod 4777 suidw
	printf 's' >sgidw
	chmod 2777 sgidw
	printf 's' >suidch
	chmod 4755 suidch
	printf 'o' >odir/o
	cd "$U"
	mkdir merged
	printf 'u' >merged/u
)
wr_save_lowers "$B1" "$B2"

uf_mount "$BIN" "$B1:$B2:$U" "$M" -o allow_other || uf_finish

# ---------------------------------------------------------------- chmod, chown
uf_log "chmod, chown"
uf_check_errno "chmod a lower file" OK chmod "$M/pmode" 600
uf_check_out "chmod: view and upper" "600 600" bash -c 'echo $(stat -c %a "$1" "$2")' _ "$M/pmode" "$U/pmode"
uf_check_errno "chown a lower file" OK chown "$M/pown" 1 2
uf_check_out "chown: view and upper" "1:2 1:2" bash -c 'echo $(stat -c %u:%g "$1" "$2")' _ "$M/pown" "$U/pown"
uf_check "chown -h a lower symlink" chown -h 3:4 "$M/sym"
uf_check_out "lchown: the symlink, not its target, copied up and changed" "3:4 pmode 600 0:0" \
	bash -c 'echo $(stat -c %u:%g "$1") $(readlink "$1") $(stat -c "%a %u:%g" "$2")' _ "$U/sym" "$M/pmode"
uf_check_errno "chown of a setuid lower file" OK chown "$M/suidch" 5 5
uf_check_out "chown clears setuid (view and upper)" "755 755" bash -c 'echo $(stat -c %a "$1" "$2")' _ "$M/suidch" "$U/suidch"

# ---------------------------------------------------------------- utimensat
uf_log "utimensat"
TIMES='s = os.lstat(A[0]); print(s.st_atime_ns, s.st_mtime_ns)'
wr_check_py "utimensat with nanoseconds" OK 'os.utime(A[0], ns=(1111111111123456789, 1222222222987654321)); print("OK")' "$M/ut1"
wr_check_py "ns times: view" "1111111111123456789 1222222222987654321" "$TIMES" "$M/ut1"
wr_check_py "ns times: upper" "1111111111123456789 1222222222987654321" "$TIMES" "$U/ut1"
mt=$(date -d "$MTIME" +%s)987654321
wr_check_py "utimensat atime set, mtime UTIME_OMIT" OK 'utimensat(A[0], (5, 6), (0, UTIME_OMIT)); print("OK")' "$M/ut2"
wr_check_py "UTIME_OMIT: view keeps the lower mtime" "5000000006 $mt" "$TIMES" "$M/ut2"
wr_check_py "UTIME_OMIT: upper keeps the lower mtime" "5000000006 $mt" "$TIMES" "$U/ut2"
wr_check_py "utimensat UTIME_NOW for both" "in-range in-range" \
	't0 = time.time_ns() - 20000000; utimensat(A[0], (0, UTIME_NOW), (0, UTIME_NOW)); t1 = time.time_ns() + 20000000
s = os.lstat(A[0])
print(*["in-range" if t0 <= t <= t1 else "out-of-range %d not in [%d, %d]" % (t, t0, t1) for t in (s.st_atime_ns, s.st_mtime_ns)])' "$M/ut3"
uf_check_out "UTIME_NOW: upper has the view's times" "$(wr_py "$TIMES" "$M/ut3")" wr_py "$TIMES" "$U/ut3"

# ---------------------------------------------------------------- xattrs
uf_log "setxattr, removexattr"
uf_check_errno "setxattr user.new on a lower file" OK setxattr "$M/xa" user.new v1
uf_check_errno "getxattr through the mount" "OK v1" getxattr "$M/xa" user.new
wr_check_xattr "user.new in the upper copy" "$U/xa" user.new v1
uf_check_errno "removexattr of an xattr that came from the lower" OK removexattr "$M/xrm" user.color
uf_check_errno "removed xattr is gone from the view" ENODATA getxattr "$M/xrm" user.color
uf_check_errno "the other xattr stays" "OK user.keep" listxattr "$M/xrm"
uf_check_out "upper copy: only user.keep" "user.keep=\"k\"" \
	bash -c 'getfattr -h -d -m - --absolute-names "$1" | grep -v "^#" | grep -v "^$" | grep -v -E "^trusted.overlay.(origin|metacopy)="' _ "$U/xrm"
uf_check_errno "removexattr of a missing name: ENODATA" ENODATA removexattr "$M/xrm" user.missing
wr_check_py "setxattr XATTR_CREATE on an existing name: EEXIST" EEXIST \
	'os.setxattr(A[0], "user.old", b"n", os.XATTR_CREATE); print("OK")' "$M/xflags"
wr_check_py "setxattr XATTR_REPLACE on a missing name: ENODATA" ENODATA \
	'os.setxattr(A[0], "user.none", b"n", os.XATTR_REPLACE); print("OK")' "$M/xflags"
wr_check_py "setxattr XATTR_REPLACE on an existing name" "OK n" \
	'os.setxattr(A[0], "user.old", b"n", os.XATTR_REPLACE); print("OK", os.getxattr(A[0], "user.old").decode())' "$M/xflags"

# A user's own trusted.overlay.* name (a nested overlay's) is data: stored
# escaped as trusted.overlay.overlay.*, as the kernel does since 6.7, so it
# never acts as the format's.
uf_check_errno "setxattr trusted.overlay.opaque through the mount: stored escaped" OK \
	setxattr "$M/merged" trusted.overlay.opaque y
wr_check_xattr "...and the upper dir did not become opaque" "$U/merged" trusted.overlay.opaque "<none>"
wr_check_xattr "...the value is under the escaped name" "$U/merged" trusted.overlay.overlay.opaque y
uf_check_out "...read back under the name it was set by" "y" \
	getfattr --absolute-names --only-values -n trusted.overlay.opaque "$M/merged"
uf_check_out "...and the merged dir still shows the lower's entries" "m u" wr_ls "$M/merged"
uf_check_errno "setxattr trusted.overlay.redirect on a file: stored escaped" OK \
	setxattr "$M/xa" trusted.overlay.redirect /x
wr_check_xattr "...no redirect written to the upper" "$U/xa" trusted.overlay.redirect "<none>"
uf_check_errno "setxattr user.overlay.opaque as root is ordinary data" OK \
	setxattr "$M/merged" user.overlay.opaque y
wr_check_xattr "...stored as it is" "$U/merged" user.overlay.opaque y
uf_check_errno "rename a lower dir (upper gets a redirect)" OK rename "$M/odir" "$M/merged/odir"
uf_check_out "listxattr of the renamed dir shows no trusted.overlay.*" "0" \
	bash -c 'getfattr -h -d -m - --absolute-names "$1" | grep -c "trusted\.overlay\." || true' _ "$M/merged/odir"
uf_check_errno "getxattr trusted.overlay.redirect through the mount: hidden" ENODATA \
	getxattr "$M/merged/odir" trusted.overlay.redirect
r=$(uf_fsutil errno removexattr "$M/merged/odir" trusted.overlay.redirect 2>&1)
case $r in
OK) uf_fail "removexattr trusted.overlay.redirect is refused" \
	"command: fsutil.py errno removexattr $M/merged/odir trusted.overlay.redirect" "expected: an error" "actual:   $r" ;;
*) uf_pass "removexattr trusted.overlay.redirect is refused ($r)" ;;
esac
wr_check_xattr "...the redirect is still on disk" "$U/merged/odir" trusted.overlay.redirect /odir
uf_check_out "...and the renamed dir still shows its lower content" "o" wr_ls "$M/merged/odir"

# ---------------------------------------------------------------- nobody: denied
uf_log "EACCES/EPERM as nobody"
upper_before=$(cd "$U" && find . | sort)
nb() { wr_check_py_nobody "$@"; }
nb "nobody: listdir a 0700 root dir: EACCES" EACCES 'os.listdir(A[0]); print("OK")' "$M/secret"
nb "nobody: stat inside a 0700 root dir: EACCES" EACCES 'os.stat(A[0]); print("OK")' "$M/secret/f"
nb "nobody: create inside a 0700 root dir: EACCES" EACCES \
	'os.close(os.open(A[0], os.O_WRONLY | os.O_CREAT, 0o644)); print("OK")' "$M/secret/new"
nb "nobody: read a 0644 root file" "OK rootf" 'print("OK", open(A[0]).read())' "$M/rootf"
nb "nobody: open O_WRONLY a 0644 root file: EACCES" EACCES 'os.close(os.open(A[0], os.O_WRONLY)); print("OK")' "$M/rootf"
nb "nobody: open O_RDWR|O_TRUNC a 0644 root file: EACCES" EACCES \
	'os.close(os.open(A[0], os.O_RDWR | os.O_TRUNC)); print("OK")' "$M/rootf"
nb "nobody: truncate a 0644 root file: EACCES" EACCES 'os.truncate(A[0], 0); print("OK")' "$M/rootf"
nb "nobody: setxattr user.x on a 0644 root file: EACCES" EACCES 'os.setxattr(A[0], "user.x", b"1"); print("OK")' "$M/rootf"
nb "nobody: chmod a root file: EPERM" EPERM 'os.chmod(A[0], 0o666); print("OK")' "$M/rootf"
nb "nobody: chown a root file: EPERM" EPERM 'os.chown(A[0], 65534, 65534); print("OK")' "$M/rootf"
nb "nobody: utime with explicit times on a root file: EPERM" EPERM 'os.utime(A[0], (1, 1)); print("OK")' "$M/rootf"
nb "nobody: UTIME_NOW on a 0644 root file: EACCES" EACCES 'os.utime(A[0]); print("OK")' "$M/rootf"
nb "nobody: unlink in a 0755 root dir: EACCES" EACCES 'os.unlink(A[0]); print("OK")' "$M/rootf"
nb "nobody: rename in a 0755 root dir: EACCES" EACCES 'os.rename(A[0], A[1]); print("OK")' "$M/rootf" "$M/rootf2"
nb "nobody: mkdir in a 0755 root dir: EACCES" EACCES 'os.mkdir(A[0]); print("OK")' "$M/nbdir"
nb "nobody: rmdir a lower dir in a 0755 root dir: EACCES" EACCES 'os.rmdir(A[0]); print("OK")' "$M/sg"
nb "nobody: unlink another user's file in a sticky dir: EPERM" EPERM 'os.unlink(A[0]); print("OK")' "$M/pub/rootowned"
uf_check_eq "the denied operations copied nothing up" "$upper_before" "$(cd "$U" && find . | sort)" "find $U"

# ---------------------------------------------------------------- nobody: allowed
uf_log "what nobody creates is nobody's"
nb "nobody: create in a 1777 lower dir" "OK 65534:65534 644" \
	'os.close(os.open(A[0], os.O_WRONLY | os.O_CREAT, 0o666)); s = os.stat(A[0]); print("OK", "%d:%d" % (s.st_uid, s.st_gid), "%o" % (s.st_mode & 0o7777))' "$M/pub/nbfile"
uf_check_out "nobody's file in the upper" "65534:65534 644" stat -c '%u:%g %a' "$U/pub/nbfile"
nb "nobody: mkdir and symlink in a 1777 lower dir" OK 'os.mkdir(A[0]); os.symlink("nbfile", A[1]); print("OK")' "$M/pub/nbd" "$M/pub/nbl"
uf_check_out "nobody's dir and symlink in the upper" "65534:65534 755
65534:65534 777" stat -c '%u:%g %a' "$U/pub/nbd" "$U/pub/nbl"
uf_check_out "copied-up 1777 dir keeps its mode and owner" "1777 0:0" stat -c '%a %u:%g' "$U/pub"
nb "nobody: write a 0666 root lower file" "OK wwf+" \
	'fd = os.open(A[0], os.O_WRONLY | os.O_APPEND); os.write(fd, b"+"); os.close(fd); print("OK", open(A[0]).read())' "$M/wwf"
uf_check_out "copy-up by nobody keeps the root owner and mode" "0:0 666" stat -c '%u:%g %a' "$U/wwf"

# ---------------------------------------------------------------- setgid dirs
uf_log "setgid directories"
uf_check_out "root creates a file in a setgid lower dir: dir's group" "1234" \
	bash -c 'printf f >"$1/f" && stat -c %g "$1/f"' _ "$M/sg"
uf_check_out "root mkdir in a setgid lower dir: dir's group, setgid inherited" "1234 2755" \
	bash -c 'mkdir "$1/d" && stat -c "%g %a" "$1/d"' _ "$M/sg"
uf_check_out "upper: the same group and modes" "f 1234 644
d 1234 2755
. 1234 2775" bash -c 'cd "$1" && stat -c "%n %g %a" f d .' _ "$U/sg"
uf_check "make an upper-only setgid dir, world-writable, group 4321" \
	bash -c 'mkdir "$1" && chown :4321 "$1" && chmod 2777 "$1"' _ "$M/usg"
nb "nobody creates in it: group 4321 (nobody is not a member)" "OK 4321" \
	'os.close(os.open(A[0] + "/f", os.O_WRONLY | os.O_CREAT, 0o644)); print("OK", os.stat(A[0] + "/f").st_gid)' "$M/usg"
nb "nobody mkdir in it: group 4321, setgid set" "OK 4321 2755" \
	'os.mkdir(A[0] + "/d"); s = os.stat(A[0] + "/d"); print("OK", s.st_gid, "%o" % (s.st_mode & 0o7777))' "$M/usg"
uf_check_out "upper: nobody's entries in the setgid dir" "f 65534:4321 644
d 65534:4321 2755" bash -c 'cd "$1" && stat -c "%n %u:%g %a" f d' _ "$U/usg"

# ---------------------------------------------------------------- kill suid
uf_log "a write by a non-owner clears setuid/setgid"
nb "nobody writes a 4777 root lower file" "OK 777" \
	'fd = os.open(A[0], os.O_WRONLY | os.O_APPEND); os.write(fd, b"+"); os.close(fd); print("OK", "%o" % (os.stat(A[0]).st_mode & 0o7777))' "$M/suidw"
uf_check_out "setuid cleared in the upper too" "777 s+" bash -c 'echo $(stat -c %a "$1") $(cat "$1")' _ "$U/suidw"
nb "nobody writes a 2777 root lower file" "OK 777" \
	'fd = os.open(A[0], os.O_WRONLY | os.O_APPEND); os.write(fd, b"+"); os.close(fd); print("OK", "%o" % (os.stat(A[0]).st_mode & 0o7777))' "$M/sgidw"
uf_check_out "setgid cleared in the upper too" "777" stat -c %a "$U/sgidw"

uf_umount "$M"
wr_check_lowers
uf_finish
