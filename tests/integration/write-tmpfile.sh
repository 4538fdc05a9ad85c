#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# open(DIR, O_TMPFILE) through the union (FUSE_TMPFILE: libfuse >= 3.15's
# .tmpfile, the bundled 3.18): an unnamed file in the upper copy of DIR, not
# listed, nlink 0, owned by the caller with the mode asked for; linkat() of
# /proc/self/fd/N names it (one upper file, same st_ino); with O_EXCL it
# cannot be linked (ENOENT, as the VFS says); closed unnamed it leaves
# nothing. A read-only union refuses it (EROFS). The lower is never written.
# Without .tmpfile (libfuse 3.14) it fails with EOPNOTSUPP, as before.
# Usage: write-tmpfile.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/d" "$T/u" "$M"
printf 'lower' >"$T/l/d/a"
chmod 777 "$T/l/d"
lower_sum=$(cd "$T/l" && find . -printf '%p %m %s\n' | sort | sha256sum)

# Has this build the handler? (libfuse's FUSE protocol 7.37 or later.)
tmpfile=yes
"$BIN" -V | grep -Eq 'version 7\.(3[7-9]|[4-9][0-9])' || tmpfile=no
uf_log "O_TMPFILE through the union: $tmpfile"

uf_mount "$BIN" "$T/l:$T/u" "$M" || uf_finish
if [ "$tmpfile" = no ]; then
	uf_check_out "O_TMPFILE without the handler" "EOPNOTSUPP" "$UF_PYTHON" -c '
import os, sys
try: os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600); print("opened")
except OSError as e: print("EOPNOTSUPP" if e.errno == __import__("errno").EOPNOTSUPP else e)' "$M/d"
	uf_umount "$M"
	uf_finish
fi

script='
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def link(fd, dst):  # linkat(AT_FDCWD, "/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW)
    if libc.linkat(-100, b"/proc/self/fd/%d" % fd, -100, dst.encode(), 0x400) < 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
d, up = sys.argv[1], sys.argv[2]
os.umask(0o022)
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o664)
os.write(fd, b"tmp-data")
st = os.fstat(fd)
print("unnamed:", st.st_nlink, oct(st.st_mode & 0o7777), st.st_uid, sorted(os.listdir(d)), sorted(os.listdir(up)))
link(fd, d + "/named")
n = os.stat(d + "/named")
print("linked:", open(d + "/named").read(), n.st_nlink, n.st_ino == st.st_ino, sorted(os.listdir(up)))
os.close(fd)
fd = os.open(d, os.O_TMPFILE | os.O_WRONLY | os.O_EXCL, 0o600)
try: link(fd, d + "/excl"); print("excl: linked")
except OSError as e: print("excl:", __import__("errno").errorcode[e.errno])
os.close(fd)
fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600); os.write(fd, b"x" * 100000); os.close(fd)
print("after close:", sorted(os.listdir(d)), sorted(os.listdir(up)))
'
uf_check_out "O_TMPFILE as root" "unnamed: 0 0o644 0 ['a'] []
linked: tmp-data 1 True ['named']
excl: ENOENT
after close: ['a', 'named'] ['named']" "$UF_PYTHON" -c "$script" "$M/d" "$T/u/d"
uf_check_eq "upper file content and mode" "tmp-data 644" "$(cat "$T/u/d/named") $(stat -c %a "$T/u/d/named")"

if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	uid=$(id -u nobody)
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$UF_PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)
st = os.fstat(fd); print(st.st_uid, oct(st.st_mode & 0o777))' "$M/d" 2>&1)
	uf_check_eq "O_TMPFILE by another user: hers" "$uid 0o600" "$out"
fi
uf_check_eq "lower untouched" "$lower_sum" "$(cd "$T/l" && find . -printf '%p %m %s\n' | sort | sha256sum)"
uf_umount "$M"

uf_mount "$BIN" "$T/l:$T/u" "$M" -o tmpfile=off || uf_finish
uf_check_out "O_TMPFILE with -o tmpfile=off" "EOPNOTSUPP" "$UF_PYTHON" -c '
import os, sys
try: os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600); print("opened")
except OSError as e: print("EOPNOTSUPP" if e.errno == __import__("errno").EOPNOTSUPP else e)' "$M/d"
uf_umount "$M"

uf_mount "$BIN" "$T/l:$T/u" "$M" -o ro || uf_finish
uf_check_out "O_TMPFILE in a read-only union" "EROFS" "$UF_PYTHON" -c '
import os, sys
try: os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600); print("opened")
except OSError as e: print(__import__("errno").errorcode[e.errno])' "$M/d"
uf_umount "$M"
uf_finish
