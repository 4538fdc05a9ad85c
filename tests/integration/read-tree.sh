#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Read side of a 3-branch union: whiteouts (char 0/0 and .wh.), opaque dirs
# (xattr and .wh..wh..opq), file-over-dir and dir-over-file shadowing,
# merged dirs at several depths, symlinks (absolute, relative, dangling,
# etc -> /etc), hard links, fifo, char device, modes/owners, xattrs, readdir
# d_ino == st_ino, inode numbers stable across dcache eviction, and that
# reading changes nothing in the lower branches.
# Usage: read-tree.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/trees.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr setfattr
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir "$M"
uf_build_layers "$T" "${UF_TREE_FORM:-mixed}" || { uf_fail "building the test tree"; uf_finish; }
lowers_before=$(tree_snapshot "$T/b1"; tree_snapshot "$T/b2")

uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" || uf_finish

# --- the whole view, by type, name and content
uf_check_eq "union view (tree_brief) matches the expected layering" \
	"$UF_LAYERS_BRIEF" "$(tree_brief "$M")" "tree_brief $M"

# --- readdir: every name once, incl. . and .., nothing hidden leaks
uf_check_eq "ls -f of the root lists each visible name once, with . and .." \
	"$(printf '%s\n' . .. a.txt dangling dirfile empty etc fifo filedir hl1 hl2 link_dir merged \
		null odd only1.txt opq_a opq_c opq_mid opq_u pair1 pair2 perms.txt re.txt re_dir rel \
		'sp ace' suid xa.txt xdir)" \
	"$(ls -f "$M" | sort)" "ls -f $M | sort"
uf_check_eq "ls -f merged/ (3 branches merged, file shadowed in all three)" \
	"$(printf '%s\n' . .. hl3 m1 m2 m3 same sub)" "$(ls -f "$M/merged" | sort)" "ls -f $M/merged | sort"
uf_check_eq "ls -f merged/sub (.wh.s1 in u hides b1's s1)" \
	"$(printf '%s\n' . .. deep s2)" "$(ls -f "$M/merged/sub" | sort)" "ls -f $M/merged/sub | sort"
uf_check_eq "ls -f merged/sub/deep (char whiteout d1 in b2)" \
	"$(printf '%s\n' . .. d2 d3)" "$(ls -f "$M/merged/sub/deep" | sort)" "ls -f $M/merged/sub/deep | sort"
uf_check_eq "ls -f opq_a (.wh..wh..opq marker is neither shown nor lets b1 through)" \
	"$(printf '%s\n' . .. new)" "$(ls -f "$M/opq_a" | sort)" "ls -f $M/opq_a | sort"
uf_check_eq "ls -f opq_mid (opaque in b2, merged with u above it)" \
	"$(printf '%s\n' . .. b c)" "$(ls -f "$M/opq_mid" | sort)" "ls -f $M/opq_mid | sort"
uf_check_eq "ls -f re_dir (dir in u above a whiteout in b2)" \
	"$(printf '%s\n' . .. b)" "$(ls -f "$M/re_dir" | sort)" "ls -f $M/re_dir | sort"
uf_check_eq "ls -f filedir (dir in u over a file in b1)" \
	"$(printf '%s\n' . .. inner)" "$(ls -f "$M/filedir" | sort)" "ls -f $M/filedir | sort"
uf_check "ls -lR of the whole union succeeds" ls -lR "$M"

# --- hidden names: whiteouts, opaque dirs, .wh. files themselves
for p in wh_c.txt wh_a.txt wh_uc.txt wh_ua.txt gone_dir gone_dir/x gone_dir/sub/y gone_dir2 \
	gone_dir2/x nothing .wh.wh_a.txt .wh.wh_ua.txt .wh.gone_dir2 .wh.re_dir .wh.nothing \
	opq_c/old1 opq_c/old2 opq_a/old opq_a/.wh..wh..opq opq_u/old opq_u/mid opq_mid/a \
	re_dir/a merged/sub/s1 merged/sub/.wh.s1 merged/sub/deep/d1 filedir/x; do
	uf_check_errno "lstat $p: hidden" ENOENT lstat "$M/$p"
done
uf_check_errno "lstat dirfile/x: file over dir hides the lower dir" ENOTDIR lstat "$M/dirfile/x"
uf_check_out "cat dirfile (file in b2 over dir in b1)" "b2 file over dir" cat "$M/dirfile"

# --- types, modes, owners, nlink
uf_check_out "stat perms.txt" "-rw-r----- 1234 5678 5 1" stat -c '%A %u %g %s %h' "$M/perms.txt"
uf_check_out "stat suid keeps the setuid bit" "-rwsr-xr-x 4755" stat -c '%A %a' "$M/suid"
uf_check_out "stat merged: mode from the top branch (u: 0750)" "directory 750" stat -c '%F %a' "$M/merged"
uf_check_out "stat merged/sub: owner from the top branch (u: 42:43)" "42 43" stat -c '%u %g' "$M/merged/sub"
uf_check_out "stat null: char device 1,3" "character special file 1 3" stat -c '%F %t %T' "$M/null"
uf_check_out "stat fifo" "fifo 644" stat -c '%F %a' "$M/fifo"
uf_check_errno "open fifo O_RDONLY|O_NONBLOCK" OK open "$M/fifo" "O_RDONLY|O_NONBLOCK"
uf_check_out "stat empty" "regular empty file 0" stat -c '%F %s' "$M/empty"
uf_check_out "cat 'sp ace'" "space" cat "$M/sp ace"

# --- hard links: same st_ino, st_nlink counts all names in the branch
uf_check_out "hl1/hl2/merged/hl3 nlink" "3 3 3" \
	bash -c 'echo $(stat -c %h "$@")' _ "$M/hl1" "$M/hl2" "$M/merged/hl3"
i1=$(stat -c %i "$M/hl1")
uf_check_out "hl1/hl2/merged/hl3 share st_ino" "$i1 $i1 $i1" \
	bash -c 'echo $(stat -c %i "$@")' _ "$M/hl1" "$M/hl2" "$M/merged/hl3"
uf_check_out "pair1/pair2 (b2) nlink 2, same st_ino" "2 2 1" \
	bash -c 'a=$(stat -c %i "$1") b=$(stat -c %i "$2"); echo $(stat -c %h "$1" "$2") $([ "$a" = "$b" ] && echo 1 || echo 0)' \
	_ "$M/pair1" "$M/pair2"
uf_check_out "ls -i shows the same number for hard links" "1" \
	bash -c 'ls -i "$1" | awk "\$2==\"hl1\"||\$2==\"hl2\"{print \$1}" | sort -u | wc -l' _ "$M"

# --- symlinks are never followed by the daemon
uf_check_out "lstat etc is a symlink" "symbolic link" stat -c %F "$M/etc"
uf_check_out "readlink etc" "/etc" readlink "$M/etc"
uf_check_eq "ls etc/ lists /etc (client-side follow)" "$(ls /etc/)" "$(ls "$M/etc/")" "ls $M/etc/"
uf_check_out "readlink dangling" "/nonexistent/target" readlink "$M/dangling"
uf_check_errno "lstat dangling" "OK l" lstat "$M/dangling"
uf_check_errno "open dangling follows to nothing" ENOENT open "$M/dangling"
uf_check_out "cat rel (relative symlink into a merged dir)" "b1 m1" cat "$M/rel"
uf_check_out "cat link_dir/m3 (symlink to dir, merged content)" "u m3" cat "$M/link_dir/m3"
uf_check_errno "readlink on a regular file" EINVAL readlink "$M/a.txt"

# --- xattrs: user.* and trusted.* shown, trusted.overlay.* never
uf_check_out "getfattr -d -m - xa.txt" \
	"# file: $M/xa.txt
trusted.test=\"t\"
user.bin=0sAP8=
user.color=\"blue\"" getfattr -h -d -m - --absolute-names "$M/xa.txt"
uf_check_errno "listxattr xa.txt" "OK trusted.test,user.bin,user.color" listxattr "$M/xa.txt"
uf_check_errno "getxattr user.color" "OK blue" getxattr "$M/xa.txt" user.color
uf_check_errno "getxattr trusted.overlay.foo is hidden" ENODATA getxattr "$M/xa.txt" trusted.overlay.foo
uf_check_errno "listxattr opq_c shows no trusted.overlay.opaque" OK listxattr "$M/opq_c"
uf_check_errno "getxattr trusted.overlay.opaque on opq_c" ENODATA getxattr "$M/opq_c" trusted.overlay.opaque
uf_check_errno "getxattr user.dirattr on a dir" "OK 1" getxattr "$M/xdir" user.dirattr
uf_check_errno "getxattr of a missing name" ENODATA getxattr "$M/a.txt" user.nope

# --- inode numbers: d_ino == st_ino, unique, stable while mounted
out=$(ino_check "$M" 2>&1)
uf_check_eq "ino_check: d_ino == st_ino, st_ino shared only by hard links" \
	"LINKS: hl1 hl2 merged/hl3
LINKS: pair1 pair2" "$out" "fsutil.py inocheck $M"
before=$(uf_fsutil inomap "$M")
sync
if echo 2 2>/dev/null >/proc/sys/vm/drop_caches; then
	after=$(uf_fsutil inomap "$M")
	uf_check_eq "st_ino of every path unchanged after drop_caches (forget + re-lookup)" "$before" "$after"
else
	uf_log "cannot write /proc/sys/vm/drop_caches: inode stability across forget not checked"
fi
after=$(uf_fsutil inomap "$M")
uf_check_eq "st_ino of every path unchanged on a second walk" "$before" "$after"
uf_check_out "root of the union is a directory with . and .." "directory" stat -c %F "$M/."
uf_check "statfs on the mount" stat -f "$M"

# --- reading changed nothing below
uf_umount "$M"
uf_check_eq "lower branches unchanged after all the reads" "$lowers_before" \
	"$(tree_snapshot "$T/b1"; tree_snapshot "$T/b2")"
uf_finish
