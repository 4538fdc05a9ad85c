#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The -o options an administrator relies on, checked as the users see them:
# allow_other is on by default for root (another user can use the union)
# and -o noallow_other turns it off; squash_to_root/uid/gid and static_nlink
# change only what stat reports (the upper keeps real owners); noacl stops
# ACL enforcement and hides the ACL xattrs; noxattrs=1 refuses every xattr
# call; redirect_dir=off makes renaming a lower directory fail with EXDEV,
# as the kernel overlayfs with the same option, without copying anything
# up.  The lowers never change.
# Usage: mount-options.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd setpriv useradd
uf_tmp

for u in ufsec-alice ufsec-bob; do
	id "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u" 2>/dev/null
	id "$u" >/dev/null 2>&1 || uf_skip "cannot create user $u"
done
AU=$(id -u ufsec-alice)
AG=$(id -g ufsec-alice)
install -m 0644 "$UF_LIB/fsutil.py" "$UF_TMP/fsutil.py"
# alice_errno OP PATH [ARGS]: fsutil.py errno as ufsec-alice
alice_errno() { setpriv --reuid="$AU" --regid="$AG" --clear-groups -- "$UF_PYTHON" "$UF_TMP/fsutil.py" errno "$@"; }

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/dir/sub" "$T/l/acl" "$M"
printf 'lower file' >"$T/l/file"
chmod 0644 "$T/l/file"
chown 1234:2345 "$T/l/dir"
# A file only alice may read, through a POSIX ACL (mode 0640 root:root).
printf 'acl secret' >"$T/l/acl/f"
chmod 0640 "$T/l/acl/f"
# set_acl FILE: give alice read access by an ACL; prints OK or the errno name
set_acl() {
	"$UF_PYTHON" - "$1" "$AU" <<'PY'
import errno, os, struct, sys
# posix_acl_xattr: version 2, then (tag, perm, id): USER_OBJ rw, USER alice r,
# GROUP_OBJ r, MASK r, OTHER none
ents = [(0x01, 6, 0xffffffff), (0x02, 4, int(sys.argv[2])), (0x04, 4, 0xffffffff),
        (0x10, 4, 0xffffffff), (0x20, 0, 0xffffffff)]
v = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in ents)
try:
    os.setxattr(sys.argv[1], "system.posix_acl_access", v)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
[ "$(set_acl "$T/l/acl/f")" = OK ] || uf_skip "the lower does not take POSIX ACLs"
lower_before=$(tree_snapshot "$T/l")

new_upper() { rm -rf "$T/u" && mkdir -p "$T/u"; }
opts_of() { awk -v m="$M" '$2 == m { print $4 }' /proc/mounts; }

# ---------------------------------------------------------------- allow_other
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M"; then
	uf_check_eq "root mount without options: allow_other in the mount options" yes \
		"$(opts_of | tr , '\n' | grep -qx allow_other && echo yes || echo no)"
	uf_check_eq "another user reads a file of a default root mount" "OK 10" "$(alice_errno read "$M/file")"
	uf_check_eq "another user lists the union" "OK 3" "$(alice_errno listdir "$M")"
	uf_check_eq "the kernel still checks modes for that user (default_permissions)" EACCES \
		"$(alice_errno open "$M/file" O_WRONLY)"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o noallow_other; then
	uf_check_eq "-o noallow_other: no allow_other in the mount options" no \
		"$(opts_of | tr , '\n' | grep -qx allow_other && echo yes || echo no)"
	uf_check_eq "-o noallow_other: another user cannot reach the union" EACCES \
		"$(alice_errno stat "$M/file")"
	uf_check_errno "-o noallow_other: root still reads" "OK 10" read "$M/file"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o allow_root; then
	uf_check_eq "-o allow_root (not allow_other on top): another user cannot reach it" EACCES \
		"$(alice_errno stat "$M/file")"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o allow_other; then
	uf_check_eq "explicit -o allow_other: another user reads" "OK 10" "$(alice_errno read "$M/file")"
	uf_umount "$M"
fi

# ------------------------------------------------------------------ squashing
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o squash_to_root,static_nlink; then
	uf_check_out "squash_to_root: every object reports 0:0" \
		"0:0 $M/dir
0:0 $M/file" stat -c '%u:%g %n' "$M/dir" "$M/file"
	uf_check_out "static_nlink: a directory with a subdir reports nlink 1" "1" stat -c %h "$M/dir"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o "squash_to_root,squash_to_uid=$AU,squash_to_gid=4242"; then
	uf_check_out "squash_to_uid=/gid= win over squash_to_root" \
		"$AU:4242 $M/dir
$AU:4242 $M/file" stat -c '%u:%g %n' "$M/dir" "$M/file"
	# The kernel grants alice owner rights on what reports her as owner.
	uf_check_eq "squash_to_uid=alice: alice may chmod through the union" OK \
		"$(alice_errno chmod "$M/file" 600)"
	uf_check_out "... and the upper copy keeps its real owner" "0:0 600" \
		stat -c '%u:%g %a' "$T/u/file"
	touch "$M/new"
	uf_check_out "a file created by root reports the squashed owner" "$AU:4242" stat -c %u:%g "$M/new"
	uf_check_out "... and is owned by root in the upper" "0:0" stat -c %u:%g "$T/u/new"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M"; then
	uf_check_out "without squashing: real owners" "1234:2345" stat -c %u:%g "$M/dir"
	uf_check_out "without static_nlink: a lower dir with a subdir reports nlink 3" "3" stat -c %h "$M/dir"
	uf_umount "$M"
fi

# ---------------------------------------------------------------------- noacl
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M"; then
	uf_check_eq "control: the kernel enforces the lower's ACL (alice reads a 0640 root file)" \
		"OK 10" "$(alice_errno read "$M/acl/f")"
	uf_check_eq "control: the ACL xattr is listed" yes \
		"$(uf_fsutil errno listxattr "$M/acl/f" | grep -q posix_acl_access && echo yes || echo no)"
	uf_check_eq "control: setting an ACL works" OK "$(set_acl "$M/file")"
	uf_umount "$M"
fi
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o noacl; then
	uf_check_eq "noacl: the ACL is not enforced (mode bits only)" EACCES "$(alice_errno read "$M/acl/f")"
	uf_check_errno "noacl: the ACL xattr is not listed" "OK" listxattr "$M/acl/f"
	uf_check_errno "noacl: getxattr of the ACL fails" ENOTSUP getxattr "$M/acl/f" system.posix_acl_access
	uf_check_eq "noacl: setting an ACL fails" ENOTSUP "$(set_acl "$M/file")"
	uf_check_errno "noacl: user.* xattrs still work" OK setxattr "$M/file" user.k v
	uf_check_errno "noacl: ... and read back" "OK v" getxattr "$M/file" user.k
	uf_umount "$M"
fi

# ------------------------------------------------------------------- noxattrs
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o noxattrs=1; then
	uf_check_errno "noxattrs=1: listxattr fails" ENOTSUP listxattr "$M/file"
	uf_check_errno "noxattrs=1: getxattr fails" ENOTSUP getxattr "$M/file" user.k
	uf_check_errno "noxattrs=1: setxattr fails" ENOTSUP setxattr "$M/file" user.k v
	uf_check_eq "noxattrs=1: nothing was copied up" "" "$(ls -A "$T/u")"
	uf_umount "$M"
fi

# --------------------------------------------------------------- redirect_dir
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o redirect_dir=off; then
	uf_check_errno "redirect_dir=off: renaming a lower dir fails" EXDEV rename "$M/dir" "$M/dir2"
	uf_check_eq "redirect_dir=off: ... before anything was copied up" "" "$(ls -A "$T/u")"
	mkdir "$M/updir"
	uf_check_errno "redirect_dir=off: renaming an upper-only dir works" OK rename "$M/updir" "$M/updir2"
	uf_check_errno "redirect_dir=off: renaming a lower file works" OK rename "$M/file" "$M/file2"
	uf_check_out "redirect_dir=off: mv(1) falls back to copying a lower dir" "sub" \
		bash -c 'mv "$1/dir" "$1/dir3" && ls "$1/dir3"' _ "$M"
	uf_umount "$M"
fi
if grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; then
	K=$UF_TMP/kmnt
	mkdir -p "$K" "$T/ku" "$T/kw"
	if mount -t overlay overlay -o "lowerdir=$T/l,upperdir=$T/ku,workdir=$T/kw,redirect_dir=off" "$K" 2>/dev/null; then
		uf_check_errno "the kernel overlayfs with redirect_dir=off agrees: EXDEV" EXDEV rename "$K/dir" "$K/dir2"
		umount "$K"
	fi
fi

# ----------------------------------------------------------------- threaded=0
new_upper
if uf_mount "$BIN" "$T/l:$T/u" "$M" -o threaded=0; then
	uf_check_errno "threaded=0 (as -s): the union answers" "OK 10" read "$M/file"
	uf_umount "$M"
fi

uf_check_eq "the lower is unchanged" "$lower_before" "$(tree_snapshot "$T/l")"
uf_finish
