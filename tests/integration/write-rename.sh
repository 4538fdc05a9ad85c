#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rename(2)/renameat2(2) through a 3-branch union: a lower file (whiteout at
# the old name, st_ino kept), over an existing lower file, RENAME_NOREPLACE
# (EEXIST; fine over a whiteout), RENAME_EXCHANGE of a lower and an upper
# file and of a lower and an upper dir, dirs that live in the lowers (no
# EXDEV; nested content at the new name, nothing at the old; whiteout +
# trusted.overlay.redirect on disk), renamed twice and renamed back, a merged
# dir, an upper dir over an empty lower dir, names reused after renames and
# removals (the lower stays hidden: opaque dir, whiteout again), the
# EISDIR/ENOTDIR/ENOTEMPTY/ENOENT/EINVAL cases.  After unmounting, the kernel overlayfs with redirect_dir=on
# must show the same tree on the same branches.
# Usage: write-rename.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd getfattr
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
B1=$T/b1 B2=$T/b2 U=$T/u W=$T/w
mkdir -p "$B1" "$B2" "$U" "$W" "$M"
(
	set -e
	cd "$B1"
	printf 'rename file' >rf
	printf 'src' >src
	printf 'dst lower' >dst
	printf 'nr a' >nr_a
	printf 'nr b' >nr_b
	printf 'nr c' >nr_c
	printf 'rmme' >rmme
	printf 'lower x' >xl
	printf 'to other' >tofile
	printf 'dir target' >isfile
	ln -s rf lsym
	mkdir -p ldir/sub/deep other sdir chain mdir e_empty ne back xd1/in mvold od rd/sub ex1/in1 ex2/in2 A B
	printf 'mvold' >mvold/old
	printf 'od' >od/x
	printf 'rd' >rd/sub/r
	printf 'ex1' >ex1/in1/f
	printf 'ex2' >ex2/in2/g
	printf 'a1' >A/a1
	printf 'b1' >B/b1
	printf 'again' >again
	printf 'pf' >pf
	printf 'ldir f' >ldir/f
	printf 'g' >ldir/sub/g
	printf 'h' >ldir/sub/deep/h
	chmod 0711 ldir/sub
	printf 'o' >other/o
	printf 's' >sdir/s
	printf 'c' >chain/c
	printf 'l' >mdir/l
	printf 'x' >ne/x
	printf 'back' >back/b
	printf 'xd1' >xd1/in/f
	cd "$B2"
	mkdir -p ldir
	printf 'b2 f' >ldir/b2f
	cd "$U"
	printf 'upper x' >xu
	printf 'upper file' >uf
	mkdir -p mdir newdir xd2
	printf 'u' >mdir/u
	printf 'newdir n' >newdir/n
	printf 'xd2' >xd2/f2
)
wr_save_lowers "$B1" "$B2"

uf_mount "$BIN" "$B1:$B2:$U" "$M" || uf_finish

# ---------------------------------------------------------------- files
uf_log "rename files"
ino_rf=$(stat -c %i "$M/rf")
uf_check_errno "rename a lower file" OK rename "$M/rf" "$M/rf2"
uf_check_out "renamed lower file: new name has the data" "rename file" cat "$M/rf2"
uf_check_errno "renamed lower file: old name gone" ENOENT lstat "$M/rf"
uf_check_out "renamed lower file keeps st_ino" "$ino_rf" stat -c %i "$M/rf2"
wr_check_whiteout "renamed lower file: whiteout at the old name" "$U/rf"
wr_check_kind "renamed lower file: copy at the new name" "file:rename file" "$U/rf2"
uf_check_errno "rename a lower file over another lower file" OK rename "$M/src" "$M/dst"
uf_check_out "rename over a lower file: view" "src" cat "$M/dst"
uf_check_errno "rename over a lower file: source gone" ENOENT lstat "$M/src"
wr_check_whiteout "rename over a lower file: whiteout at the source" "$U/src"
wr_check_kind "rename over a lower file: upper file at the target" "file:src" "$U/dst"
uf_check_errno "rename a lower symlink" OK rename "$M/lsym" "$M/lsym2"
wr_check_kind "renamed lower symlink keeps its target in the upper" "symlink:rf" "$U/lsym2"
uf_check_errno "rename a lower file into a lower dir" OK rename "$M/tofile" "$M/other/tofile"
uf_check_out "moved file: view of the lower dir" "o tofile" wr_ls "$M/other"
wr_check_kind "moved file: lands in the copied-up dir" "file:to other" "$U/other/tofile"
wr_check_whiteout "moved file: whiteout at the old name" "$U/tofile"

uf_log "RENAME_NOREPLACE"
wr_check_py "RENAME_NOREPLACE onto a lower file: EEXIST" EEXIST \
	'renameat2(A[0], A[1], RENAME_NOREPLACE); print("OK")' "$M/nr_a" "$M/nr_b"
wr_check_py "RENAME_NOREPLACE onto an upper file: EEXIST" EEXIST \
	'renameat2(A[0], A[1], RENAME_NOREPLACE); print("OK")' "$M/nr_a" "$M/uf"
uf_check_out "RENAME_NOREPLACE failures changed nothing" "nr a|nr b|upper file" \
	bash -c 'echo "$(cat "$1")|$(cat "$2")|$(cat "$3")"' _ "$M/nr_a" "$M/nr_b" "$M/uf"
wr_check_kind "failed RENAME_NOREPLACE: no copy-up of the source" absent "$U/nr_a"
wr_check_py "RENAME_NOREPLACE onto a free name" OK \
	'renameat2(A[0], A[1], RENAME_NOREPLACE); print("OK")' "$M/nr_a" "$M/nr_new"
uf_check_errno "unlink a lower file (whiteout)" OK unlink "$M/rmme"
wr_check_py "RENAME_NOREPLACE onto a whited-out name succeeds" OK \
	'renameat2(A[0], A[1], RENAME_NOREPLACE); print("OK")' "$M/nr_c" "$M/rmme"
uf_check_out "...and the target has the data" "nr c" cat "$M/rmme"
wr_check_kind "...the whiteout was replaced" "file:nr c" "$U/rmme"

uf_log "RENAME_EXCHANGE"
wr_check_py "RENAME_EXCHANGE of a lower and an upper file" OK \
	'renameat2(A[0], A[1], RENAME_EXCHANGE); print("OK")' "$M/xl" "$M/xu"
uf_check_out "exchanged files: view" "upper x|lower x" bash -c 'echo "$(cat "$1")|$(cat "$2")"' _ "$M/xl" "$M/xu"
wr_check_kind "exchanged: upper xl" "file:upper x" "$U/xl"
wr_check_kind "exchanged: upper xu" "file:lower x" "$U/xu"
wr_check_py "RENAME_EXCHANGE with a missing target: ENOENT" ENOENT \
	'renameat2(A[0], A[1], RENAME_EXCHANGE); print("OK")' "$M/xl" "$M/nothere"
wr_check_py "RENAME_EXCHANGE of a lower dir and an upper dir" OK \
	'renameat2(A[0], A[1], RENAME_EXCHANGE); print("OK")' "$M/xd1" "$M/xd2"
uf_check_out "exchanged dirs: view" "xd1: f2 | xd2: in in/f xd1" \
	bash -c 'cd "$1" && echo "xd1: $(find xd1 -mindepth 1 -printf "%P ")| xd2: $(find xd2 -mindepth 1 -printf "%P " | xargs -n1 | sort | xargs) $(cat xd2/in/f)"' _ "$M"

# ---------------------------------------------------------------- dirs
uf_log "rename dirs that live in the lowers"
wr_check_py "rename a lower dir (merged over b1 and b2) into another dir: no EXDEV" OK \
	'os.rename(A[0], A[1]); print("OK")' "$M/ldir" "$M/other/moved"
uf_check_out "moved dir: nested content at the new name" \
	"b2f=b2 f f=ldir f sub/deep/h=h sub/g=g" \
	bash -c 'cd "$1" && for f in $(find . -type f | sort); do printf "%s=%s " "${f#./}" "$(cat "$f")"; done | sed "s/ $//"' _ "$M/other/moved"
uf_check_out "moved dir: subdir mode kept" "711" stat -c %a "$M/other/moved/sub"
uf_check_errno "moved dir: old name gone" ENOENT lstat "$M/ldir"
uf_check_errno "moved dir: old nested path gone" ENOENT lstat "$M/ldir/sub/g"
uf_check_out "root listing no longer has ldir" "" bash -c 'ls "$1" | grep -x ldir || true' _ "$M"
wr_check_whiteout "moved dir: whiteout at the old name" "$U/ldir"
wr_check_kind "moved dir: a dir in the upper at the new name" dir "$U/other/moved"
wr_check_xattr "moved dir: trusted.overlay.redirect=/ldir" "$U/other/moved" trusted.overlay.redirect /ldir
wr_check_xattr "moved dir: not opaque" "$U/other/moved" trusted.overlay.opaque "<none>"
uf_check_out "write into the moved dir and a nested lower file" "h+ new" \
	bash -c 'printf + >>"$1/sub/deep/h" && printf new >"$1/sub/new" && echo $(cat "$1/sub/deep/h") $(cat "$1/sub/new")' _ "$M/other/moved"
wr_check_kind "nested copy-up under the moved dir" "file:h+" "$U/other/moved/sub/deep/h"

wr_check_py "rename a lower dir within its parent" OK 'os.rename(A[0], A[1]); print("OK")' "$M/sdir" "$M/sdir2"
uf_check_out "same-dir rename: content" "s" cat "$M/sdir2/s"
wr_check_whiteout "same-dir rename: whiteout" "$U/sdir"
r=$(wr_xattr "$U/sdir2" trusted.overlay.redirect)
case $r in
/sdir | sdir) uf_pass "same-dir rename: redirect is /sdir or sdir ($r)" ;;
*) uf_fail "same-dir rename: redirect" "command: getfattr -n trusted.overlay.redirect $U/sdir2" \
	"expected: /sdir (or the kernel's relative sdir)" "actual:   $r" ;;
esac

wr_check_py "rename a lower dir twice (chain -> chain1 -> chain2)" OK \
	'os.rename(A[0], A[1]); os.rename(A[1], A[2]); print("OK")' "$M/chain" "$M/chain1" "$M/chain2"
uf_check_out "renamed twice: content" "c" cat "$M/chain2/c"
uf_check_errno "renamed twice: first name gone" ENOENT lstat "$M/chain"
uf_check_errno "renamed twice: middle name gone" ENOENT lstat "$M/chain1"
wr_check_kind "renamed twice: no upper entry for the middle name" absent "$U/chain1"
r=$(wr_xattr "$U/chain2" trusted.overlay.redirect)
case $r in
/chain | chain) uf_pass "renamed twice: redirect still names the lower dir ($r)" ;;
*) uf_fail "renamed twice: redirect" "command: getfattr -n trusted.overlay.redirect $U/chain2" \
	"expected: /chain (or chain)" "actual:   $r" ;;
esac

wr_check_py "rename a lower dir away and back" OK \
	'os.rename(A[0], A[1]); os.rename(A[1], A[0]); print("OK")' "$M/back" "$M/back2"
uf_check_out "renamed back: content" "back" cat "$M/back/b"
uf_check_errno "renamed back: temp name gone" ENOENT lstat "$M/back2"

wr_check_py "rename a merged dir (upper + b1)" OK 'os.rename(A[0], A[1]); print("OK")' "$M/mdir" "$M/mdir2"
uf_check_out "renamed merged dir: both layers' content" "l u" wr_ls "$M/mdir2"
wr_check_whiteout "renamed merged dir: whiteout at the old name" "$U/mdir"

wr_check_py "rename an upper-only dir over an empty lower dir" OK \
	'os.rename(A[0], A[1]); print("OK")' "$M/newdir" "$M/e_empty"
uf_check_out "upper dir over an empty lower dir: view" "n" wr_ls "$M/e_empty"
uf_check_errno "...source gone" ENOENT lstat "$M/newdir"

uf_log "names reused after renames and removals"
uf_check "mkdir at the old name of a moved lower dir" \
	bash -c 'mv "$1/mvold" "$1/mvnew" && mkdir "$1/mvold"' _ "$M"
uf_check_out "...the new dir is empty (the lower's content stays hidden)" "" wr_ls "$M/mvold"
uf_check_out "...and the moved dir has it" "old" wr_ls "$M/mvnew"
wr_check_xattr "...the new dir is opaque" "$U/mvold" trusted.overlay.opaque y
uf_check_out "recreate a removed lower file, remove it again" "" \
	bash -c 'rm "$1/again" && echo new >"$1/again" && rm "$1/again"' _ "$M"
uf_check_errno "...the lower file stays hidden" ENOENT lstat "$M/again"
wr_check_whiteout "...a whiteout again" "$U/again"
uf_check_out "rm -r a lower dir, mkdir it, rmdir it" "" \
	bash -c 'rm -r "$1/od" && mkdir "$1/od" && rmdir "$1/od"' _ "$M"
uf_check_errno "...the lower dir stays hidden" ENOENT lstat "$M/od"
wr_check_whiteout "...a whiteout again" "$U/od"
uf_check_out "rename an upper file over a whiteout, then away again" "" \
	bash -c 'rm "$1/pf" && echo tmp >"$1/tmpf" && mv "$1/tmpf" "$1/pf" && mv "$1/pf" "$1/other/pf"' _ "$M"
uf_check_errno "...the lower file stays hidden" ENOENT lstat "$M/pf"
wr_check_whiteout "...a whiteout at the name again" "$U/pf"
uf_check_out "rename a lower dir, then rm -r it" "" bash -c 'mv "$1/rd" "$1/rd2" && rm -r "$1/rd2"' _ "$M"
uf_check_errno "...the old name is gone" ENOENT lstat "$M/rd"
uf_check_errno "...the new name is gone" ENOENT lstat "$M/rd2"
wr_check_whiteout "...a whiteout at the old name" "$U/rd"
wr_check_kind "...nothing at the new name" absent "$U/rd2"
wr_check_py "RENAME_EXCHANGE of two lower dirs" OK \
	'renameat2(A[0], A[1], RENAME_EXCHANGE); print("OK")' "$M/ex1" "$M/ex2"
uf_check_out "...each shows the other's content" "in2/g=ex2 in1/f=ex1" \
	bash -c 'echo "in2/g=$(cat "$1/ex1/in2/g") in1/f=$(cat "$1/ex2/in1/f")"' _ "$M"
uf_check_out "rm -r a lower dir, then rename another lower dir to its name" "a1" \
	bash -c 'rm -r "$1/B" && mv "$1/A" "$1/B" && ls "$1/B"' _ "$M"

uf_log "rename errors"
wr_check_py "rename a dir over a non-empty lower dir: ENOTEMPTY" ENOTEMPTY \
	'os.rename(A[0], A[1]); print("OK")' "$M/mdir2" "$M/ne"
wr_check_py "rename a file over a dir: EISDIR" EISDIR 'os.rename(A[0], A[1]); print("OK")' "$M/rf2" "$M/ne"
wr_check_py "rename a dir over a file: ENOTDIR" ENOTDIR 'os.rename(A[0], A[1]); print("OK")' "$M/ne" "$M/isfile"
wr_check_py "rename a missing name: ENOENT" ENOENT 'os.rename(A[0], A[1]); print("OK")' "$M/nothere" "$M/x"
wr_check_py "rename a whited-out name: ENOENT" ENOENT 'os.rename(A[0], A[1]); print("OK")' "$M/rf" "$M/x"
wr_check_py "rename a dir into itself: EINVAL" EINVAL 'os.rename(A[0], A[1]); print("OK")' "$M/ne" "$M/ne/sub"
wr_check_kind "failed renames: ne not copied up" absent "$U/ne"

view=$(tree_snapshot "$M")
uf_umount "$M"
wr_check_lowers "lower branches unchanged after the renames"

# ---------------------------------------------------------------- kernel view
uf_log "the kernel overlayfs (redirect_dir=on) on the same branches"
ovl_mount "$B2:$B1" "$U" "$W" "$M" redirect_dir=on
kview=$(tree_snapshot "$M")
uf_check_eq "kernel overlayfs (redirect_dir=on) shows the tree unionfuse showed (-kernel +unionfuse)" \
	"$kview" "$view" "diff <(tree_snapshot kernel-mnt) <(tree_snapshot unionfuse-mnt)"
ovl_umount "$M"
wr_check_lowers "lower branches unchanged after the kernel mount"
uf_finish
