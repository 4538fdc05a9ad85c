# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for the write-side integration tests (tests/integration/write-*.sh).
# Source after common.sh.
#
#   wr_branch_list DIR...     exact listing of branches: every entry with
#                             type, mode, owner, size, sha256, link target,
#                             rdev, mtime and ctime in ns, and ALL xattrs
#                             (trusted.overlay.* included); used to prove a
#                             lower branch is byte-for-byte unchanged
#   wr_save_lowers DIR...     remember that listing of the lowers
#   wr_check_lowers [DESC]    compare the lowers with the saved listing
#   wr_py CODE [ARGS...]      run python3 CODE (with the prelude below; ARGS
#                             in A[]); an uncaught OSError prints its errno
#                             name (EEXIST, ...) instead of a traceback
#   wr_check_py DESC EXPECTED CODE [ARGS...]
#                             uf_check_out on wr_py
#   wr_kind PATH              one word for what PATH is on disk: "whiteout",
#                             "file:CONTENT", "dir", "symlink:TARGET",
#                             "fifo", "char:M:N", "absent"
#   wr_check_kind DESC EXPECTED PATH
#   wr_check_whiteout DESC PATH
#                             PATH is a kernel-format whiteout: stat -c
#                             '%F %t:%T' says "character special file 0:0"
#   wr_xattr PATH NAME        value of xattr NAME on PATH (no deref), or
#                             "<none>"
#   wr_ls DIR                 sorted names in DIR (incl. dot files), one line
#
# The python prelude defines renameat2(old, new, flags), utimensat(path,
# (a_sec, a_nsec), (m_sec, m_nsec), flags), RENAME_NOREPLACE/EXCHANGE,
# UTIME_NOW/OMIT, and imports os, sys, errno, stat, fcntl, ctypes.

WR_PY_PRELUDE='
import os, sys, errno, stat, fcntl, ctypes, time, struct
A = sys.argv[1:]
_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
AT_FDCWD, AT_SYMLINK_NOFOLLOW = -100, 0x100
def _chk(r):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
def renameat2(old, new, flags):
    _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _chk(_libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags))
class _ts(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
def utimensat(path, at, mt, flags=0):
    ts = (_ts * 2)(_ts(*at), _ts(*mt))
    _libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    _chk(_libc.utimensat(AT_FDCWD, os.fsencode(path), ts, flags))
'

wr_py() {
	local code=$1
	shift
	"$UF_PYTHON" -c "$WR_PY_PRELUDE
try:
$(printf '%s\n' "$code" | sed 's/^/    /')
except OSError as _e:
    print(errno.errorcode.get(_e.errno, str(_e.errno)))
" "$@"
}

# wr_py_nobody CODE [ARGS...]: wr_py as nobody:nogroup, no supplementary groups.
wr_py_nobody() {
	local code=$1
	shift
	uf_as_nobody "$UF_PYTHON" -c "$WR_PY_PRELUDE
try:
$(printf '%s\n' "$code" | sed 's/^/    /')
except OSError as _e:
    print(errno.errorcode.get(_e.errno, str(_e.errno)))
" "$@"
}

wr_check_py() {
	local desc=$1 exp=$2 code=$3 out rc=0
	shift 3
	out=$(wr_py "$code" "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && out="$out${out:+ }[exit $rc]"
	uf_check_eq "$desc" "$exp" "$out" "python3 -c '$code' $*"
}

wr_check_py_nobody() {
	local desc=$1 exp=$2 code=$3 out rc=0
	shift 3
	out=$(wr_py_nobody "$code" "$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && out="$out${out:+ }[exit $rc]"
	uf_check_eq "$desc" "$exp" "$out" "setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c '$code' $*"
}

wr_branch_list() {
	"$UF_PYTHON" - "$@" <<'EOF'
import hashlib, os, stat, sys
def esc(b):
    return "".join(chr(c) if 0x21 <= c <= 0x7e and c != 0x5c else "\\x%02x" % c for c in b)
for top in sys.argv[1:]:
    top = os.fsencode(top)
    out = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in [b""] + sorted(dirs + files) if root == top else sorted(dirs + files):
            p = os.path.join(root, name) if name else root
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            f = [esc(rel), "%o" % st.st_mode, "%d:%d" % (st.st_uid, st.st_gid),
                 "nlink=%d" % st.st_nlink if not stat.S_ISDIR(st.st_mode) else "",
                 "mtime=%d" % st.st_mtime_ns, "ctime=%d" % st.st_ctime_ns]
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                # O_NOATIME: listing a branch must not change what a
                # later copy-up copies (atime)
                with os.fdopen(os.open(p, os.O_RDONLY | os.O_NOATIME), "rb") as fh:
                    for blk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(blk)
                f += ["size=%d" % st.st_size, "blocks=%d" % st.st_blocks, h.hexdigest()]
            elif stat.S_ISLNK(st.st_mode):
                f.append("-> " + esc(os.readlink(p)))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                f.append("rdev=%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            for x in sorted(os.listxattr(p, follow_symlinks=False)):
                f.append("%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
            out.append(" ".join(x for x in f if x))
    print("== %s" % esc(top))
    print("\n".join(sorted(out)))
EOF
}

WR_LOWERS_BEFORE=
WR_LOWER_DIRS=()

wr_save_lowers() {
	WR_LOWER_DIRS=("$@")
	WR_LOWERS_BEFORE=$(wr_branch_list "$@")
}

wr_check_lowers() {
	local now sum
	now=$(wr_branch_list "${WR_LOWER_DIRS[@]}")
	sum=$(printf '%s\n' "$WR_LOWERS_BEFORE" | sha256sum | cut -c1-16)
	uf_check_eq "${1:-lower branches unchanged} (listing sha256 $sum, $(printf '%s\n' "$now" | wc -l) lines)" \
		"$WR_LOWERS_BEFORE" "$now" "wr_branch_list ${WR_LOWER_DIRS[*]}"
}

wr_kind() {
	local p=$1 t
	if [ ! -e "$p" ] && [ ! -L "$p" ]; then
		echo absent
		return
	fi
	t=$(stat -c '%F %t:%T' "$p")
	case $t in
	"character special file 0:0") echo whiteout ;;
	"character special file "*) echo "char:$(stat -c '%t:%T' "$p")" ;;
	directory*) echo dir ;;
	"symbolic link"*) echo "symlink:$(readlink "$p")" ;;
	fifo*) echo fifo ;;
	"regular file"* | "regular empty file"*) echo "file:$(cat "$p")" ;;
	*) echo "other:$t" ;;
	esac
}

wr_check_kind() {
	uf_check_eq "$1" "$2" "$(wr_kind "$3")" "stat -c '%F %t:%T' $3; cat/readlink $3"
}

wr_check_whiteout() {
	uf_check_out "$1" "character special file 0:0" stat -c '%F %t:%T' "$2"
}

wr_xattr() {
	getfattr -h --absolute-names --only-values -n "$2" "$1" 2>/dev/null || echo "<none>"
}

wr_check_xattr() {
	uf_check_eq "$1" "$4" "$(wr_xattr "$2" "$3")" "getfattr -h --only-values -n $3 $2"
}

wr_ls() {
	ls -A "$1" 2>&1 | tr '\n' ' ' | sed 's/ $//'
}
