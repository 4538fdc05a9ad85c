#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The upper is the kernel overlayfs's format, both ways:
#  A. the kernel (mount -t overlay, redirect_dir=on) writes an upper (rm of a
#     lower file, rm -r of a lower dir + mkdir, mv of lower dirs in and
#     across dirs, copy-ups, ...); unionfuse on the same branches then shows
#     the tree the kernel showed, with no trusted.overlay.* leaking;
#  B. unionfuse does the same operations on a fresh copy of the branches:
#     its view equals the kernel's from A, its upper has the same on-disk
#     form (whiteouts c 0:0, opaque where a lower name was replaced,
#     redirects naming the same lower dirs), and the kernel mounts it and
#     shows the same tree;
#  C. unionfuse keeps writing on the kernel-written upper of A (renaming a
#     dir that carries the kernel's relative redirect into another dir,
#     renaming one again in its dir, moving a subdir out of it, removing
#     inside redirected and opaque dirs); unionfuse after a remount and the
#     kernel then show what unionfuse showed.
# No lower branch changes at any point.
# Usage: write-interop.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd getfattr setfattr
uf_tmp

M=$UF_TMP/mnt
mkdir -p "$M"

# build ROOT: ROOT/{b1,b2,u,w}
build() {
	local r=$1
	mkdir -p "$r/b1" "$r/b2" "$r/u" "$r/w"
	(
		set -e
		cd "$r/b1"
		mkdir -p d_rm/sub/deep d_mv/sub d_mv5/sub d_mv3 d_mvm other/deeper d_ch empty merged keepdir
		printf 'rm me' >f_rm
		printf 'write me' >f_w
		printf 'src' >f_src
		printf 'dst' >f_dst
		printf 'link me' >f_ln
		printf 'xattr' >f_x
		printf 'old' >d_rm/old
		printf 'deep' >d_rm/sub/deep/f
		printf 'mv' >d_mv/f
		printf 'mv sub' >d_mv/sub/g
		printf 'gone' >d_mv/sub/gone
		printf 'mv3' >d_mv3/f
		printf 'mv5' >d_mv5/f
		printf 'mv5 sub' >d_mv5/sub/s
		printf 'b1 m' >d_mvm/b1
		printf 'ch' >d_ch/c
		printf 'b1 merged' >merged/b1
		printf 'shared b1' >merged/shared
		printf 'keep' >keepdir/k
		chmod 0750 d_mv/sub
		setfattr -n user.dir -v 1 d_mv
		cd "$r/b2"
		mkdir -p d_mvm merged
		printf 'b2 m' >d_mvm/b2
		printf 'b2 merged' >merged/b2
		printf 'shared b2' >merged/shared
	) || return 1
}

# ops MNT: operations through a union at MNT; prints the first that fails.
ops() {
	(
		set -e
		cd "$1"
		rm f_rm
		rm -r d_rm
		mkdir d_rm
		printf 'new in recreated' >d_rm/new
		mv d_mv d_mv2
		mv d_mv5 d_mv6
		mv d_mv3 other/deeper/d_mv3
		mv d_mvm other/d_mvm
		rm d_mv2/sub/gone
		printf 'added' >d_mv2/sub/added
		printf '+' >>f_w
		printf 'new file' >newf
		mkdir -p newd/inner
		printf 'inner' >newd/inner/f
		rm merged/shared
		rmdir empty
		mv f_src f_dst
		chmod 0700 d_ch
		ln -s f_w newsym
		ln f_ln f_ln2
		setfattr -n user.x -v 1 f_x
	) 2>&1 || echo "ops on $1 failed"
}

# ops2 MNT: more operations, on top of an upper the kernel wrote.
ops2() {
	(
		set -e
		cd "$1"
		mv d_mv2 other/deeper/d_mv4
		mv d_mv6 d_mv7
		mv d_mv7/sub other/sub7
		printf 'after kernel' >other/deeper/d_mv4/f2
		rm other/deeper/d_mv4/f
		rm -r d_rm
		mkdir d_rm
		rm other/deeper/d_mv3/f
		mv keepdir newd/keepdir
		printf 'more' >>f_w
	) 2>&1 || echo "ops2 on $1 failed"
}

# upper_form UPPER LOWER...: the upper's on-disk form, normalised for
# comparing two writers: every entry's path and type (whiteout, dir, file
# with content, symlink target), a dir's redirect made absolute, and its
# opaque flag only where a lower has the same path (the kernel also marks
# brand-new dirs opaque, as an optimisation).  trusted.overlay.origin,
# impure and uuid are the kernel's bookkeeping and left out.
upper_form() {
	"$UF_PYTHON" - "$@" <<'EOF'
import os, stat, sys
up, lowers = sys.argv[1], sys.argv[2:]
def x(p, n):
    try:
        return os.getxattr(p, n, follow_symlinks=False).decode()
    except OSError:
        return None
out = []
for root, dirs, files in os.walk(up):
    for n in sorted(dirs + files):
        p = os.path.join(root, n)
        rel = os.path.relpath(p, up)
        st = os.lstat(p)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            out.append("%s whiteout" % rel)
        elif stat.S_ISDIR(st.st_mode):
            f = ["%s dir %o" % (rel, st.st_mode & 0o7777)]
            r = x(p, "trusted.overlay.redirect")
            if r is not None:
                if not r.startswith("/"):
                    r = "/" + os.path.join(os.path.dirname(rel), r).lstrip("./")
                f.append("redirect=" + r)
            if any(os.path.lexists(os.path.join(l, rel)) for l in lowers):
                f.append("opaque=%s" % x(p, "trusted.overlay.opaque"))
            out.append(" ".join(f))
        elif stat.S_ISLNK(st.st_mode):
            out.append("%s symlink %s" % (rel, os.readlink(p)))
        elif stat.S_ISREG(st.st_mode):
            out.append("%s file %o %r" % (rel, st.st_mode & 0o7777, open(p, "rb").read()[:64]))
        else:
            out.append("%s other %o" % (rel, st.st_mode))
        for a in sorted(os.listxattr(p, follow_symlinks=False)):
            if a.startswith("user."):
                out[-1] += " %s=%s" % (a, x(p, a))
print("\n".join(sorted(out)))
EOF
}

# no_overlay_xattrs MNT: count of trusted.overlay.* names listed through MNT.
no_overlay_xattrs() {
	getfattr -R -h -d -m - --absolute-names "$1" 2>/dev/null | grep -c '^trusted\.overlay\.' || true
}

# ---------------------------------------------------------------- A
uf_log "A: the kernel writes, unionfuse reads"
A=$UF_TMP/a
build "$A" || { uf_fail "building tree A"; uf_finish; }
wr_save_lowers "$A/b1" "$A/b2"
ovl_mount "$A/b2:$A/b1" "$A/u" "$A/w" "$M" redirect_dir=on
uf_check_out "A: operations through the kernel overlayfs" "" ops "$M"
kview=$(tree_snapshot "$M")
ovl_umount "$M"
uf_check_out "A: the kernel wrote a redirect for the moved dir" "d_mv" \
	bash -c 'getfattr -h --absolute-names --only-values -n trusted.overlay.redirect "$1"; echo' _ "$A/u/d_mv2"
if uf_mount "$BIN" "$A/b1:$A/b2:$A/u" "$M"; then
	uf_check_eq "A: unionfuse shows the tree the kernel showed (-kernel +unionfuse)" "$kview" "$(tree_snapshot "$M")" \
		"diff <(tree_snapshot kernel) <(tree_snapshot unionfuse)"
	uf_check_out "A: unionfuse lists no trusted.overlay.* xattr anywhere" "0" no_overlay_xattrs "$M"
	uf_check_out "A: ino_check on the kernel-written upper" "LINKS: f_ln f_ln2" ino_check "$M"
	uf_check_out "A: content of the kernel-moved dir" "f sub added g" \
		bash -c 'echo $(ls "$1") $(ls "$1/sub")' _ "$M/d_mv2"
	uf_check_out "A: the kernel-recreated dir hides the lower's content" "new" wr_ls "$M/d_rm"

	uf_log "C: unionfuse writes on the kernel's upper"
	uf_check_out "C: more operations through unionfuse" "" ops2 "$M"
	uview2=$(tree_snapshot "$M")
	uf_umount "$M"
	uf_check_out "C: the redirect of a dir moved across dirs is absolute" "/d_mv" \
		bash -c 'getfattr -h --absolute-names --only-values -n trusted.overlay.redirect "$1"; echo' _ "$A/u/other/deeper/d_mv4"
	r=$(wr_xattr "$A/u/d_mv7" trusted.overlay.redirect)
	case $r in
	/d_mv5 | d_mv5) uf_pass "C: a dir with the kernel's relative redirect renamed again in its dir still names the lower dir ($r)" ;;
	*) uf_fail "C: a dir with the kernel's relative redirect renamed again in its dir still names the lower dir" \
		"command: getfattr -n trusted.overlay.redirect $A/u/d_mv7" "expected: /d_mv5 (or d_mv5)" "actual:   $r" ;;
	esac
	wr_check_xattr "C: a subdir moved out of that dir: redirect is its lower path" "$A/u/other/sub7" \
		trusted.overlay.redirect /d_mv5/sub
	wr_check_kind "C: nothing left at the kernel-moved dir's name (no lower has it)" absent "$A/u/d_mv2"
	if uf_mount "$BIN" "$A/b1:$A/b2:$A/u" "$M"; then
		uf_check_eq "C: unionfuse shows the same tree after a remount (-before +after)" "$uview2" \
			"$(tree_snapshot "$M")" "diff <(tree_snapshot before-umount) <(tree_snapshot after-remount)"
		uf_umount "$M"
	fi
	ovl_mount "$A/b2:$A/b1" "$A/u" "$A/w" "$M" redirect_dir=on,metacopy=on
	uf_check_eq "C: the kernel shows what unionfuse showed (-kernel +unionfuse)" "$(tree_snapshot "$M")" "$uview2" \
		"diff <(tree_snapshot kernel) <(tree_snapshot unionfuse)"
	ovl_umount "$M"
fi
wr_check_lowers "A, C: lower branches unchanged"

# ---------------------------------------------------------------- B
uf_log "B: unionfuse writes, the kernel reads"
B=$UF_TMP/b
build "$B" || { uf_fail "building tree B"; uf_finish; }
K=$UF_TMP/k
build "$K" || { uf_fail "building tree K"; uf_finish; }
wr_save_lowers "$B/b1" "$B/b2"
if uf_mount "$BIN" "$B/b1:$B/b2:$B/u" "$M"; then
	uf_check_out "B: operations through unionfuse" "" ops "$M"
	uview=$(tree_snapshot "$M")
	uf_umount "$M"
	uf_check_eq "B: unionfuse's view after the operations equals the kernel's in A (-kernel +unionfuse)" \
		"$kview" "$uview" "diff <(tree_snapshot kernel-A) <(tree_snapshot unionfuse-B)"
	ovl_mount "$B/b2:$B/b1" "$B/u" "$B/w" "$M" redirect_dir=on,metacopy=on
	uf_check_eq "B: the kernel on unionfuse's upper shows unionfuse's tree (-kernel +unionfuse)" \
		"$(tree_snapshot "$M")" "$uview" "diff <(tree_snapshot kernel) <(tree_snapshot unionfuse)"
	ovl_umount "$M"
	# the kernel's upper for the same operations, for the on-disk form
	ovl_mount "$K/b2:$K/b1" "$K/u" "$K/w" "$M" redirect_dir=on
	ops "$M" >/dev/null
	ovl_umount "$M"
	uf_check_eq "B: unionfuse's upper has the kernel's on-disk form (-kernel +unionfuse)" \
		"$(upper_form "$K/u" "$K/b1" "$K/b2")" "$(upper_form "$B/u" "$B/b1" "$B/b2")" \
		"diff <(upper_form kernel-upper) <(upper_form unionfuse-upper)"
	wr_check_whiteout "B: rm of a lower file: whiteout" "$B/u/f_rm"
	wr_check_xattr "B: rm -r + mkdir of a lower dir: opaque=y" "$B/u/d_rm" trusted.overlay.opaque y
	wr_check_whiteout "B: mv of a lower dir: whiteout at the old name" "$B/u/d_mv"
	r=$(wr_xattr "$B/u/d_mv2" trusted.overlay.redirect)
	case $r in
	/d_mv | d_mv) uf_pass "B: mv of a lower dir: redirect names it ($r)" ;;
	*) uf_fail "B: mv of a lower dir: redirect" "command: getfattr -n trusted.overlay.redirect $B/u/d_mv2" \
		"expected: /d_mv (or d_mv)" "actual:   $r" ;;
	esac
	wr_check_xattr "B: mv of a lower dir into a subdir: absolute redirect" "$B/u/other/deeper/d_mv3" \
		trusted.overlay.redirect /d_mv3
fi
wr_check_lowers "B: lower branches unchanged"
uf_finish
