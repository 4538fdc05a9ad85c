#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Directories through a 3-branch union: mkdir (EEXIST), rmdir (ENOTEMPTY on
# a merged or lower-only non-empty dir, ENOTDIR, ENOENT; a lower-only empty
# dir or a dir empty only in the merged view becomes a whiteout; an
# upper-only dir just goes), rm -r of a lower tree, a dir made again where a
# lower dir or file was removed (opaque), a file created over a whiteout,
# copy-up of parent dirs (mode, owner, xattrs, times; never opaque).  Checks
# the view, the upper's on-disk form, and that no lower changed.
# Usage: write-dirs.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr setfattr
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
B1=$T/b1 B2=$T/b2 U=$T/u
mkdir -p "$B1" "$B2" "$U" "$M"
(
	set -e
	cd "$B1"
	mkdir -p mdir lonly lempty both_empty wdir redo/sub/deep tree/a/b tree/c mixed opq cdir \
		a/b/c
	printf 'b1 lfile' >mdir/lfile
	printf 'f' >lonly/f
	printf 'a' >wdir/a
	printf 'b' >wdir/b
	printf 'old' >redo/old
	printf 'deep' >redo/sub/deep/f
	printf '1' >tree/a/b/1
	printf '2' >tree/c/2
	printf '3' >tree/3
	printf 'x' >mixed/x
	printf 'x' >opq/x
	printf 'c' >cdir/c
	printf 'wfile' >wfile
	printf 'cf lower' >cf
	printf 'afile' >afile
	chmod 0751 a
	chmod 0705 a/b
	chown 5:6 a/b
	setfattr -n user.a -v A a
	setfattr -n trusted.b -v B a/b
	touch -d '2002-03-04 05:06:07.111111111' a/b/c a/b a
	cd "$B2"
	mkdir both_empty
	mkdir -p mdir
	printf 'b2 m' >mdir/b2file
	cd "$U"
	mkdir mdir mixed opq uonly_full
	printf 'u' >mdir/ufile
	printf 'full' >uonly_full/f
	mknod mixed/x c 0 0
	setfattr -n trusted.overlay.opaque -v y opq
)
wr_save_lowers "$B1" "$B2"

uf_mount "$BIN" "$B1:$B2:$U" "$M" || uf_finish

# ---------------------------------------------------------------- mkdir
uf_log "mkdir"
uf_check_errno "mkdir a new dir" OK mkdir "$M/newd"
uf_check_out "new dir: view" "directory 755" stat -c '%F %a' "$M/newd"
wr_check_kind "new dir lands in the upper" dir "$U/newd"
uf_check_errno "mkdir over a lower dir: EEXIST" EEXIST mkdir "$M/lonly"
uf_check_errno "mkdir over a merged dir: EEXIST" EEXIST mkdir "$M/mdir"
uf_check_errno "mkdir over a lower file: EEXIST" EEXIST mkdir "$M/afile"
uf_check_errno "mkdir below a lower file: ENOTDIR" ENOTDIR mkdir "$M/afile/x"
uf_check_errno "mkdir below a missing dir: ENOENT" ENOENT mkdir "$M/nope/x"
uf_check_errno "mkdir in a merged dir" OK mkdir "$M/mdir/sub"
uf_check_out "merged dir listing after mkdir" "b2file lfile sub ufile" wr_ls "$M/mdir"
wr_check_kind "mkdir in a merged dir: upper" dir "$U/mdir/sub"

# ---------------------------------------------------------------- rmdir errors
uf_log "rmdir errors"
uf_check_errno "rmdir a merged non-empty dir: ENOTEMPTY" ENOTEMPTY rmdir "$M/mdir"
uf_check_errno "rmdir a lower-only non-empty dir: ENOTEMPTY" ENOTEMPTY rmdir "$M/lonly"
uf_check_errno "rmdir an upper-only non-empty dir: ENOTEMPTY" ENOTEMPTY rmdir "$M/uonly_full"
uf_check_errno "rmdir a lower file: ENOTDIR" ENOTDIR rmdir "$M/afile"
uf_check_errno "rmdir below a lower file: ENOTDIR" ENOTDIR rmdir "$M/afile/x"
uf_check_errno "rmdir a missing name: ENOENT" ENOENT rmdir "$M/nope"
wr_check_kind "failed rmdir of a lower-only dir: no copy-up" absent "$U/lonly"
uf_check_out "merged dir intact after ENOTEMPTY" "b2file lfile sub ufile" wr_ls "$M/mdir"

# ---------------------------------------------------------------- rmdir
uf_log "rmdir"
uf_check_errno "rmdir a lower-only empty dir" OK rmdir "$M/lempty"
uf_check_errno "removed lower dir is gone" ENOENT lstat "$M/lempty"
wr_check_whiteout "rmdir of a lower-only empty dir: whiteout" "$U/lempty"
uf_check_errno "rmdir an empty dir that is in b1 and b2" OK rmdir "$M/both_empty"
wr_check_whiteout "rmdir of a dir in two lowers: one whiteout in the upper" "$U/both_empty"
uf_check_errno "rmdir the new upper-only dir" OK rmdir "$M/newd"
wr_check_kind "rmdir of an upper-only dir: nothing left" absent "$U/newd"
uf_check_errno "rmdir a merged dir whose only lower entry is whited out in the upper" OK rmdir "$M/mixed"
wr_check_whiteout "rmdir of a merged-empty dir: whiteout replaces the upper dir" "$U/mixed"
uf_check_errno "rmdir an opaque upper dir over a non-empty lower" OK rmdir "$M/opq"
wr_check_whiteout "rmdir of an opaque dir: whiteout" "$U/opq"
uf_check_errno "unlink wdir/a" OK unlink "$M/wdir/a"
uf_check_errno "unlink wdir/b" OK unlink "$M/wdir/b"
uf_check_out "wdir empty in the view" "" wr_ls "$M/wdir"
wr_check_whiteout "unlink in a lower dir: whiteout wdir/a in a copied-up wdir" "$U/wdir/a"
uf_check_errno "rmdir the now-empty lower dir" OK rmdir "$M/wdir"
wr_check_whiteout "rmdir of wdir: whiteout, the upper dir with its whiteouts gone" "$U/wdir"
uf_check_out "rm -r of a lower tree" "" rm -r "$M/tree"
uf_check_errno "lower tree gone" ENOENT lstat "$M/tree"
wr_check_whiteout "rm -r of a lower tree: one whiteout at its top" "$U/tree"
uf_check_out "root listing after the removals" "a afile cdir cf lonly mdir redo uonly_full wfile" wr_ls "$M"

# ---------------------------------------------------------------- recreate: opaque
uf_log "mkdir where a lower dir was removed: opaque"
uf_check_out "rm -r of a lower dir with nested content" "" rm -r "$M/redo"
uf_check_errno "mkdir redo again" OK mkdir "$M/redo"
uf_check_out "recreated dir is empty in the view" "" wr_ls "$M/redo"
uf_check_errno "old nested lower content stays hidden" ENOENT lstat "$M/redo/sub/deep/f"
wr_check_kind "recreated dir is a dir in the upper" dir "$U/redo"
wr_check_xattr "recreated dir has trusted.overlay.opaque=y" "$U/redo" trusted.overlay.opaque y
uf_check_out "upper redo/ is empty (no leftover whiteouts)" "" wr_ls "$U/redo"
uf_check_out "create in the recreated dir" "new" bash -c 'printf new >"$1/new" && ls "$1"' _ "$M/redo"
uf_check_errno "getxattr trusted.overlay.opaque through the mount: hidden" ENODATA \
	getxattr "$M/redo" trusted.overlay.opaque
uf_check_out "listxattr through the mount shows no trusted.overlay.*" "0" \
	bash -c 'getfattr -h -d -m - --absolute-names "$1" | grep -c trusted.overlay || true' _ "$M/redo"
uf_check_errno "unlink a lower file" OK unlink "$M/wfile"
uf_check_errno "mkdir where a lower file was removed" OK mkdir "$M/wfile"
uf_check_out "dir over a removed lower file: view" "directory" stat -c %F "$M/wfile"
wr_check_kind "dir over a removed lower file: upper dir replaces the whiteout" dir "$U/wfile"
wr_check_xattr "dir over a removed lower file: opaque=y (as the kernel)" "$U/wfile" trusted.overlay.opaque y

# ---------------------------------------------------------------- file over whiteout
uf_log "create over a whiteout"
uf_check_errno "unlink a lower file" OK unlink "$M/cf"
wr_check_whiteout "whiteout first" "$U/cf"
uf_check_out "create the same name again" "cf new" bash -c 'printf "cf new" >"$1" && cat "$1"' _ "$M/cf"
wr_check_kind "the whiteout was replaced by the new file" "file:cf new" "$U/cf"
uf_check_errno "unlink the lower dir's file, then mkdir there" OK unlink "$M/lonly/f"
uf_check_errno "mkdir lonly/f over its whiteout" OK mkdir "$M/lonly/f"
wr_check_kind "lonly/f is a dir in the upper" dir "$U/lonly/f"

# ---------------------------------------------------------------- parent copy-up
uf_log "copy-up of parent dirs"
times_before=$(stat -c '%n %y' "$M/a" "$M/a/b")
uf_check_out "create a/b/c/f in a lower-only chain" "f" bash -c 'printf f >"$1/f" && ls "$1"' _ "$M/a/b/c"
uf_check_out "upper chain: modes and owners copied" "a 751 0:0
a/b 705 5:6
a/b/c 755 0:0" bash -c 'cd "$1" && stat -c "%n %a %u:%g" a a/b a/b/c' _ "$U"
wr_check_xattr "upper a keeps user.a" "$U/a" user.a A
wr_check_xattr "upper a/b keeps trusted.b" "$U/a/b" trusted.b B
wr_check_xattr "copied-up a is not opaque" "$U/a" trusted.overlay.opaque "<none>"
wr_check_xattr "copied-up a/b is not opaque" "$U/a/b" trusted.overlay.opaque "<none>"
wr_check_xattr "copied-up a/b/c is not opaque" "$U/a/b/c" trusted.overlay.opaque "<none>"
uf_check_eq "mtime of a and a/b unchanged by copying them up" "$times_before" \
	"$(stat -c '%n %y' "$M/a" "$M/a/b")" "stat -c '%n %y' $M/a $M/a/b"
uf_check_out "mtime of the upper a, a/b is the lower's (ns)" \
	"$(cd "$B1" && stat -c '%n %y' a a/b)" bash -c 'cd "$1" && stat -c "%n %y" a a/b' _ "$U"
uf_check_errno "chmod a lower dir" OK chmod "$M/cdir" 700
uf_check_out "chmod of a lower dir: view" "700 c" bash -c 'echo $(stat -c %a "$1") $(ls "$1")' _ "$M/cdir"
uf_check_out "chmod of a lower dir: copied up, mode 700, no children copied" "700 " \
	bash -c 'echo "$(stat -c %a "$1") $(ls -A "$1")"' _ "$U/cdir"
wr_check_xattr "chmod'ed dir is not opaque (lower content still merged)" "$U/cdir" trusted.overlay.opaque "<none>"

uf_umount "$M"
wr_check_lowers
uf_finish
