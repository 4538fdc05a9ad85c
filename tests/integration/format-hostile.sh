#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hostile on-disk metadata in the branches (docs/format.md "Untrusted
# input"). A redirect never leads out of its branch: not by "..", not
# through a symlink, not into another mount, not for a user who sets
# user.overlay.redirect on her own upper (-o userxattr,allow_other). An
# invalid redirect fails the lookup with the kernel's errno; an invalid
# metacopy value with EIO. A redirect longer than 4 KiB (a renamed deep
# directory) still works after a remount. Only a regular .wh.NAME file
# hides NAME, and a .wh. directory does not keep its parent from rmdir.
# Lowers are never changed.
# Usage: format-hostile.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd setfattr
uf_require_cmd setpriv
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/a/deep" "$T/l/mp" "$T/mid" "$T/u" "$M" "$T/secret"
chmod 755 "$UF_TMP" "$T"
printf 'hi' >"$T/l/a/deep/f"
printf 'root only' >"$T/secret/SECRET-FILE"
chmod 700 "$T/secret"
ln -s "$T/secret" "$T/l/link"
# Another filesystem mounted inside the lower; the unmount trap removes it.
mount -t tmpfs -o size=1m uftest "$T/l/mp"
mkdir "$T/l/mp/x"
printf 'other fs' >"$T/l/mp/x/INSIDE-MOUNT"

lower_before=$(uf_fsutil snapshot "$T/l"; uf_fsutil snapshot "$T/mid")

# redirect VALUE DIR: set trusted.overlay.redirect (a hex value if 0x...).
redirect() { setfattr -h -n trusted.overlay.redirect -v "$1" "$2"; }
# names DIR: its listing on one line (or the error).
names() { ls -A "$1" 2>&1 | tr '\n' ' '; }

# ---------------------------------------------------------------- redirects
rd() { # NAME VALUE
	mkdir -p "$T/u/$1"
	redirect "$2" "$T/u/$1"
}
rd rel a                # valid: the lower "a"
rd abs /a/deep          # valid: the lower "a/deep"
rd rel-dotdot ../secret # relative with '/': out of the branch before
rd abs-dotdot /../secret
rd rel-dots ..
rd slash /
rd empty-comp /a//deep
rd trailing /a/
rd nul 0x610062
rd via-symlink /link
rd into-mount /mp/x
rd too-long "/$(printf 'n%.0s' {1..300})"

# view: the errno of stat and the listing of each redirected directory.
SAME_AS_KERNEL="rel abs rel-dotdot abs-dotdot rel-dots slash empty-comp trailing too-long"
view() {
	local d
	for d in $SAME_AS_KERNEL; do
		printf '%s: %s %s\n' "$d" "$(uf_fsutil errno stat "$1/$d" | cut -d' ' -f1)" "$(names "$1/$d")"
	done
}
if [ -z "${UF_NO_KERNEL:-}" ] && grep -qw overlay /proc/filesystems; then
	mkdir -p "$T/kw"
	ovl_mount "$T/mid:$T/l" "$T/u" "$T/kw" "$M" redirect_dir=on
	kernel_view=$(view "$M")
	umount "$M"
	rm -rf "$T/kw"
fi

uf_mount "$BIN" "$T/l:$T/mid:$T/u" "$M" || uf_finish
if [ -n "${kernel_view:-}" ]; then
	uf_check_eq "the kernel overlayfs (redirect_dir=on) sees the same" "$kernel_view" "$(view "$M")"
fi
uf_check_eq "relative redirect 'a' merges the lower a" "deep " "$(names "$M/rel")"
uf_check_eq "absolute redirect '/a/deep' merges it" "f " "$(names "$M/abs")"
uf_check_errno "relative '../secret': EINVAL, as the kernel" EINVAL stat "$M/rel-dotdot"
uf_check_errno "absolute '/../secret': EACCES, as the kernel" EACCES stat "$M/abs-dotdot"
uf_check_errno "relative '..': EACCES, as the kernel" EACCES stat "$M/rel-dots"
uf_check_errno "'/': EINVAL, as the kernel" EINVAL stat "$M/slash"
uf_check_errno "'/a//deep': EINVAL, as the kernel" EINVAL stat "$M/empty-comp"
uf_check_errno "'/a/': EINVAL, as the kernel" EINVAL stat "$M/trailing"
uf_check_errno "an embedded NUL: EINVAL" EINVAL stat "$M/nul"
uf_check_eq "a redirect through a symlink is not followed" "" "$(names "$M/via-symlink")"
uf_check_eq "a redirect into another mount is not followed" "" "$(names "$M/into-mount")"
uf_check_eq "a component over NAME_MAX leads nowhere, as the kernel" "" "$(names "$M/too-long")"
all=$(cd "$M" && ls -AR rel abs rel-dotdot abs-dotdot rel-dots via-symlink into-mount too-long 2>/dev/null)
case $all in
*SECRET-FILE* | *INSIDE-MOUNT*) uf_fail "nothing outside the branches shows" "listing: $all" ;;
*) uf_pass "nothing outside the branches shows" ;;
esac
uf_umount "$M"

# ------------------------------------------- a user's own upper, userxattr
# alice owns the upper and sets user.overlay.* herself; the daemon is root.
useradd -M -s /usr/sbin/nologin ufsec-alice 2>/dev/null || true
ALICE=$(id -u ufsec-alice)
as_alice() { setpriv --reuid="$ALICE" --regid="$ALICE" --clear-groups -- "$@"; }
mkdir -p "$T/ua/d" "$T/ua/e"
chown -R "$ALICE:$ALICE" "$T/ua"
as_alice setfattr -n user.overlay.redirect -v ../secret "$T/ua/d"
as_alice setfattr -n user.overlay.redirect -v /link "$T/ua/e"
uf_mount "$BIN" "$T/l:$T/ua" "$M" -o userxattr,allow_other || uf_finish
uf_check_eq "alice's '../secret' shows her nothing of root's" "EINVAL" \
	"$(as_alice "$UF_PYTHON" "$UF_LIB/fsutil.py" errno listdir "$M/d" 2>&1)"
# As root with userxattr the daemon follows no redirect at all (EPERM, as
# the kernel's userxattr mount): anyone who can write a branch could forge it.
uf_check_eq "alice's '/link' shows her nothing of root's (not followed: EPERM)" "EPERM" \
	"$(as_alice "$UF_PYTHON" "$UF_LIB/fsutil.py" errno listdir "$M/e" 2>&1)"
uf_umount "$M"

# ---------------------------------------------------------------- long redirect
# A directory 21 levels of 250-byte names deep, renamed through the union
# onto tmpfs (ext4 keeps no 5 KiB xattr): a redirect over 4 KiB.
TU=$UF_TMP/tu
mkdir -p "$TU"
mount -t tmpfs -o size=4m uftest2 "$TU"
mkdir -p "$TU/u" "$TU/w"
"$UF_PYTHON" - "$T/l" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(21):
    n = ("%02d" % i) + "d" * 248
    os.mkdir(n, dir_fd=fd)
    nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
os.close(os.open("DEEP-FILE", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
EOF
deep_rename() { # MOUNT: rename the deepest dir to /moved through the union
	"$UF_PYTHON" - "$1" <<'EOF'
import os, sys
root = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fd = os.dup(root)
for i in range(20):
    nfd = os.open(("%02d" % i) + "d" * 248, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
os.rename("20" + "d" * 248, "moved", src_dir_fd=fd, dst_dir_fd=root)
EOF
}
uf_mount "$BIN" "$T/l:$TU/u" "$M" -o workdir="$TU/w" || uf_finish
uf_check "rename of a 5 KiB-deep lower directory" deep_rename "$M"
uf_check_eq "it shows its content" "DEEP-FILE " "$(names "$M/moved")"
uf_umount "$M"
len=$(getfattr -h --only-values -n trusted.overlay.redirect "$TU/u/moved" 2>/dev/null | wc -c)
if [ "$len" -gt 4096 ]; then
	uf_pass "its redirect is longer than 4 KiB ($len bytes)"
else
	uf_fail "its redirect is longer than 4 KiB" "actual: $len bytes"
fi
uf_mount "$BIN" "$T/l:$TU/u" "$M" -o workdir="$TU/w" || uf_finish
uf_check_eq "after a remount it still shows its content" "DEEP-FILE " "$(names "$M/moved")"
uf_umount "$M"

# ---------------------------------------------------------------- .wh. types
mkdir -p "$T/l/w"
for n in reg dir sym fifo opqdir opqreg; do
	mkdir -p "$T/l/w/$n" && printf 'x' >"$T/l/w/$n/below"
done
mkdir -p "$T/mid/w/opqdir/.wh..wh..opq" "$T/mid/w/opqreg"
: >"$T/mid/w/opqreg/.wh..wh..opq"
: >"$T/mid/w/.wh.reg"
mkdir "$T/mid/w/.wh.dir"
ln -s reg "$T/mid/w/.wh.sym"
mkfifo "$T/mid/w/.wh.fifo"
rm -rf "$T/u"/* && mkdir -p "$T/u/gone/.wh.x/y/z" "$T/u/gone/.wh.x/.wh.q"
: >"$T/u/gone/.wh.x/y/z/file"
ln -s / "$T/u/gone/.wh.x/root"
: >"$T/u/gone/.wh.f"
lower_before=$(uf_fsutil snapshot "$T/l"; uf_fsutil snapshot "$T/mid")
uf_mount "$BIN" "$T/l:$T/mid:$T/u" "$M" || uf_finish
uf_check_eq "only a regular .wh.NAME hides NAME (listing)" "dir fifo opqdir opqreg sym " "$(names "$M/w")"
uf_check_errno "a regular .wh.reg hides reg" ENOENT stat "$M/w/reg"
uf_check_errno "a .wh.dir directory hides nothing" "OK" stat "$M/w/dir"
uf_check_errno "a .wh.sym symlink hides nothing" "OK" stat "$M/w/sym"
uf_check_errno "a .wh.fifo fifo hides nothing" "OK" stat "$M/w/fifo"
uf_check_eq "a regular .wh..wh..opq makes its dir opaque" "" "$(names "$M/w/opqreg")"
uf_check_eq "a .wh..wh..opq directory does not" "below " "$(names "$M/w/opqdir")"
uf_check_eq "a directory holding only .wh. entries is empty" "" "$(names "$M/gone")"
uf_check_errno "and rmdir removes it, .wh. directories and all" "OK" rmdir "$M/gone"
uf_check_eq "nothing of it is left in the upper" "" "$(ls -A "$T/u" | tr '\n' ' ')"
uf_check_eq "the / a symlink in it pointed to is intact" "OK" "$(uf_fsutil errno stat /etc/passwd)"
uf_umount "$M"

# ---------------------------------------------------------------- metacopy
mkdir -p "$T/l/mc"
printf 'hello' >"$T/l/mc/good" && printf 'hello' >"$T/l/mc/short" && printf 'hello' >"$T/l/mc/v1"
lower_before=$(uf_fsutil snapshot "$T/l"; uf_fsutil snapshot "$T/mid")
mkdir -p "$T/u/mc"
for f in good short v1; do truncate -s 5 "$T/u/mc/$f"; done
setfattr -n trusted.overlay.metacopy -v '""' "$T/u/mc/good"
setfattr -n trusted.overlay.metacopy -v 0x0004 "$T/u/mc/short"
setfattr -n trusted.overlay.metacopy -v 0x01040000 "$T/u/mc/v1"
uf_mount "$BIN" "$T/l:$T/u" "$M" || uf_finish
uf_check_eq "an empty metacopy value: data from the lower" "hello" "$(cat "$M/mc/good" 2>&1)"
uf_check_errno "a 2-byte metacopy value: EIO, as the kernel" EIO stat "$M/mc/short"
uf_check_errno "a metacopy of version 1: EIO" EIO stat "$M/mc/v1"
uf_umount "$M"

uf_check_eq "the lowers are untouched" "$lower_before" "$(uf_fsutil snapshot "$T/l"; uf_fsutil snapshot "$T/mid")"
uf_finish
