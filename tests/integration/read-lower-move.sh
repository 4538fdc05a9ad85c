#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Directories moved directly in a lower branch while the union has them
# cached, some with a copied-up twin in the upper: the union must show what a
# fresh kernel overlay mount of the changed branches shows, and what is
# created through it must land in the upper directory of the name it was
# created under. A directory inode is keyed by its origin's identity, which
# moves with the lower directory, so a stale inode would show the old name's
# upper contents at the new name (or the moved lower at the old one).
# Shapes: a rename in place, a move to another parent, an exchange
# (renameat2 RENAME_EXCHANGE) of a copied-up and a pure-lower dir, a move of
# an ancestor three levels up, a copied-up file whose lower origin moves, a
# dir renamed through the union (redirect) whose lower moves, an exchange of
# pure-lower dirs merged with a second lower. After each change: the whole
# view equals a read-only kernel overlay of upper:lowers, st_ino is unique
# (ino_check), and the union wrote nothing to the lowers.
# Usage: read-lower-move.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
K=$UF_TMP/k
L1=$T/l1 L2=$T/l2 U=$T/u
mkdir -p "$L1" "$L2" "$U" "$M" "$K"

(
	set -e
	cd "$L1"
	mkdir -p c1/d1 c2/p/a c2/q c3/e1 c3/e2 c4/top/mid/leaf c5/d c6/r1 c7/s1 c7/s2
	printf 'a' >c1/d1/a
	printf 'b' >c1/d1/b
	printf 'x' >c2/p/a/x
	printf 'one' >c3/e1/one
	printf 'two' >c3/e2/two
	printf 'deep' >c4/top/mid/leaf/deep
	printf 'lower' >c5/d/f
	printf 'rf' >c6/r1/rf
	printf 'p1' >c7/s1/p1
	printf 'p2' >c7/s2/p2
	mkdir -p "$L2/c7/s1"
	printf 'q' >"$L2/c7/s1/q"
) || {
	uf_fail "building the branches"
	uf_finish
}

# The daemon's branch order is bottom first, the kernel's top first.
uf_mount "$BIN" "$L1:$L2:$U" "$M" || uf_finish

exchange() {
	"$UF_PYTHON" - "$1" "$2" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, os.fsencode(sys.argv[1]), -100, os.fsencode(sys.argv[2]), 2) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
EOF
}

lowers() { tree_snapshot "$L1"; tree_snapshot "$L2"; }

# change DESC CMD...: change a lower directly, give the notify thread a moment,
# and remember the lowers as they are now.
LOWERS=
change() {
	local desc=$1
	shift
	uf_check "$desc (directly in the lower)" "$@"
	sleep 0.5
	LOWERS=$(lowers)
}

# oracle LABEL: the union equals a fresh read-only kernel overlay of the same
# branches (the upper as its top layer), st_ino is unique, lowers unchanged.
oracle() {
	local out
	if ! out=$(mount -t overlay overlay -o "lowerdir=$U:$L2:$L1,redirect_dir=follow" "$K" 2>&1); then
		uf_fail "$1: mount -t overlay" "$out"
		return
	fi
	uf_diff_views "$1" "$K" "$M"
	umount "$K"
	uf_check_eq "$1: ino_check (unique st_ino, d_ino == st_ino)" "" "$(ino_check "$M" 2>&1)" \
		"ino_check $M"
	uf_check_eq "$1: the union left the lowers as they were" "$LOWERS" "$(lowers)"
}

# in_upper DESC PATH...: each PATH (relative to the upper) exists there.
in_upper() {
	local desc=$1 p missing=()
	shift
	for p in "$@"; do [ -e "$U/$p" ] || missing+=("$p"); done
	uf_check_eq "$desc" "" "${missing[*]}" "ls $U/..."
}

not_in_upper() {
	local desc=$1 p there=()
	shift
	for p in "$@"; do [ -e "$U/$p" ] && there+=("$p"); done
	uf_check_eq "$desc" "" "${there[*]}" "ls $U/..."
}

LOWERS=$(lowers)

# Prime: copy-ups and cached listings, names and attributes.
uf_check "c1: write d1/f (copies d1 up)" sh -c "printf f >'$M/c1/d1/f'"
uf_check "c2: write p/a/new (copies p/a up)" sh -c "printf new >'$M/c2/p/a/new'"
uf_check "c3: write e1/w (copies e1 up)" sh -c "printf w >'$M/c3/e1/w'"
uf_check "c4: write top/mid/leaf/w" sh -c "printf w >'$M/c4/top/mid/leaf/w'"
uf_check "c5: append to d/f (copies it up)" sh -c "printf +more >>'$M/c5/d/f'"
uf_check "c6: rename r1 to r2 through the union (redirect)" mv "$M/c6/r1" "$M/c6/r2"
ls -laR "$M" >/dev/null 2>&1
stat "$M"/c*/* "$M"/c*/*/* >/dev/null 2>&1
oracle "before any lower change"

# 1. A copied-up dir renamed in place in the lower.
change "c1: mv d1 d3" mv "$L1/c1/d1" "$L1/c1/d3"
uf_check_out "c1: d3 shows the moved lower, nothing of upper/d1" "$(printf 'a\nb')" ls "$M/c1/d3"
uf_check_out "c1: d1 shows its upper alone" "f" ls "$M/c1/d1"
uf_check "c1: create d3/g" sh -c "printf g >'$M/c1/d3/g'"
in_upper "c1: d3/g landed in upper/c1/d3" c1/d3/g
not_in_upper "c1: nothing landed in upper/c1/d1" c1/d1/g
oracle "c1 (rename in place)"

# 2. A copied-up dir moved to another (cached) parent.
change "c2: mv p/a q/a" mv "$L1/c2/p/a" "$L1/c2/q/a"
uf_check_out "c2: q/a shows the moved lower" "x" ls "$M/c2/q/a"
uf_check_out "c2: p/a shows its upper alone" "new" ls "$M/c2/p/a"
uf_check "c2: create q/a/y" sh -c "printf y >'$M/c2/q/a/y'"
in_upper "c2: q/a/y landed in upper/c2/q/a" c2/q/a/y
not_in_upper "c2: nothing landed in upper/c2/p/a" c2/p/a/y
oracle "c2 (move to another parent)"

# 3. A copied-up dir exchanged with a pure-lower sibling.
change "c3: exchange e1 and e2" exchange "$L1/c3/e1" "$L1/c3/e2"
uf_check_out "c3: e1 merges its upper with the lower now at e1" "$(printf 'two\nw')" ls "$M/c3/e1"
uf_check_out "c3: e2 shows the lower now at e2" "one" ls "$M/c3/e2"
uf_check "c3: create e2/z" sh -c "printf z >'$M/c3/e2/z'"
in_upper "c3: e2/z landed in upper/c3/e2" c3/e2/z
not_in_upper "c3: nothing landed in upper/c3/e1" c3/e1/z
oracle "c3 (exchange)"

# 4. An ancestor three levels up moved: the leaf's lower goes with it.
change "c4: mv top top2" mv "$L1/c4/top" "$L1/c4/top2"
uf_check_out "c4: top/mid/leaf shows its upper alone" "w" ls "$M/c4/top/mid/leaf"
uf_check_out "c4: top2/mid/leaf shows the moved lower" "deep" ls "$M/c4/top2/mid/leaf"
uf_check "c4: create top2/mid/leaf/n" sh -c "printf n >'$M/c4/top2/mid/leaf/n'"
in_upper "c4: the file landed in upper/c4/top2/mid/leaf" c4/top2/mid/leaf/n
not_in_upper "c4: nothing landed in upper/c4/top/mid/leaf" c4/top/mid/leaf/n
oracle "c4 (deep move)"

# 5. A copied-up file's lower origin moved with its directory.
change "c5: mv d e" mv "$L1/c5/d" "$L1/c5/e"
uf_check_out "c5: e/f is the lower file" "lower" cat "$M/c5/e/f"
uf_check_out "c5: d/f is the upper copy" "lower+more" cat "$M/c5/d/f"
uf_check "c5: write e/f" sh -c "printf 2 >>'$M/c5/e/f'"
uf_check_out "c5: e/f written in upper/c5/e" "lower2" cat "$U/c5/e/f"
uf_check_out "c5: upper/c5/d/f untouched" "lower+more" cat "$U/c5/d/f"
oracle "c5 (a copy's origin moved)"

# 6. The lower behind a union rename (a redirect) moved away.
change "c6: mv r1 r9" mv "$L1/c6/r1" "$L1/c6/r9"
uf_check_out "c6: r2 shows its upper alone" "" ls "$M/c6/r2"
uf_check_out "c6: r9 shows the moved lower" "rf" ls "$M/c6/r9"
uf_check "c6: create r9/s" sh -c "printf s >'$M/c6/r9/s'"
in_upper "c6: r9/s landed in upper/c6/r9" c6/r9/s
not_in_upper "c6: nothing landed in upper/c6/r2" c6/r2/s
oracle "c6 (redirect target moved)"

# 7. Pure-lower dirs, one merged with a second lower, exchanged.
change "c7: exchange s1 and s2 in l1" exchange "$L1/c7/s1" "$L1/c7/s2"
uf_check_out "c7: s1 merges l2's s1 with l1's new s1" "$(printf 'p2\nq')" ls "$M/c7/s1"
uf_check_out "c7: s2 shows l1's new s2" "p1" ls "$M/c7/s2"
oracle "c7 (pure-lower exchange)"

uf_umount "$M"
uf_finish
