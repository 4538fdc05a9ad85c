#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# overlay.origin and -o index=on (docs/format.md "Origins and the index"),
# with the kernel overlayfs as the oracle on a copy of the same layers:
#  A. index=on: a write through one name of a lower hard link shows through
#     all its names, which keep one st_ino (the lower's) and st_nlink; the
#     upper gets WORKDIR/index/<hex origin> linked to the name, with the
#     kernel's overlay.origin and overlay.nlink; the kernel doing the same
#     writes the same; after a remount everything stays (st_ino, nlink,
#     data), a write through a third name reaches the others, and the kernel
#     (index=on) mounts our upper and shows the same names, data, nlink and
#     st_ino; unlinking names and linking a new one count as the kernel's,
#     down to the index entry's removal.
#  B. index=off (the default): a copied-up file keeps its lower st_ino
#     across a remount, as the kernel's; a broken-off hard link does not.
#  C. index=on is refused without a workdir, and with an upper that was used
#     with other lowers.
# No lower branch changes at any point.
# Usage: write-hardlinks-index.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_root
uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd getfattr setfattr
uf_tmp

# build ROOT: ROOT/{l,u,w,m}; l has a 4-name hard link a b c d, a solo
# file s and a 2-name hard link p q (in a subdir for q).
build() {
	local r=$1
	mkdir -p "$r/l/sub" "$r/u" "$r/w" "$r/m"
	echo hello >"$r/l/a"
	ln "$r/l/a" "$r/l/b"
	ln "$r/l/a" "$r/l/c"
	ln "$r/l/a" "$r/l/d"
	echo solo >"$r/l/s"
	echo pq >"$r/l/p"
	ln "$r/l/p" "$r/l/sub/q"
}
K=$UF_TMP/k
F=$UF_TMP/f
build "$K"
build "$F"
lsum() { (cd "$1/l" && find . -printf '%p %i %n %s %T@\n' | sort && cat a s p); }
LK=$(lsum "$K")
LF=$(lsum "$F")

kmount() { ovl_mount "$1/l" "$1/u" "$1/w" "$1/m" "${2:-index=on}"; }
fmount() { uf_mount "$BIN" "$1/l:$1/u" "$1/m" -o "workdir=$1/w${2:+,$2}"; }

# What a view shows of the names: data, st_nlink, and whether all names
# of the hard link share one st_ino equal to the lower's.
view() {
	local m=$1 n
	for n in "$@"; do
		[ "$n" = "$m" ] && continue
		printf '%s: %s nlink %s\n' "$n" "$(cat "$m/$n" | tr '\n' '|')" "$(stat -c %h "$m/$n")"
	done
}
inos() { local m=$1; shift; (cd "$m" && stat -c %i "$@" | tr '\n' ' '); }
ondisk() {
	local r=$1
	(cd "$r/u" && find . -type f -printf '%p nlink %n\n' | sort)
	(cd "$r/w/index" && find . -type f -printf 'index entry nlink %n\n' | sort)
	getfattr -h --absolute-names -n trusted.overlay.nlink --only-values "$r/u/a" 2>&1
	echo
}

LINO_A=$(stat -c %i "$F/l/a")
LINO_P=$(stat -c %i "$F/l/p")

# ---- A: index=on
uf_log "A: index=on, kernel and unionfuse on copies of the same layers"
kmount "$K"
echo x >>"$K/m/a"
echo y >>"$K/m/p"
KV1=$(view "$K/m" a b c d p sub/q)
umount "$K/m"

fmount "$F" index=on || uf_finish
echo x >>"$F/m/a"
echo y >>"$F/m/p"
FV1=$(view "$F/m" a b c d p sub/q)
uf_check_eq "A: a write through one name shows through all, nlink kept (as the kernel)" "$KV1" "$FV1"
uf_check_eq "A: every name has the lower's st_ino" "$LINO_A $LINO_A $LINO_A $LINO_A $LINO_P $LINO_P " \
	"$(inos "$F/m" a b c d p sub/q)"
uf_check_eq "A: a solo copy keeps st_ino" "$(stat -c %i "$F/l/s")" "$(echo z >>"$F/m/s"; stat -c %i "$F/m/s")"
uf_umount "$F/m" || uf_finish
(kmount "$K"; echo z >>"$K/m/s"; umount "$K/m")

uf_check_eq "A: the upper and index/ hold what the kernel's hold" "$(ondisk "$K")" "$(ondisk "$F")"
ORIG=$(getfattr -h --absolute-names -n trusted.overlay.origin -e hex "$F/u/a" 2>/dev/null |
	sed -n 's/^trusted.overlay.origin=0x//p')
uf_check_eq "A: the index entry is named by the hex of the origin" "yes" \
	"$([ -n "$ORIG" ] && [ "$(stat -c %i "$F/w/index/$ORIG")" = "$(stat -c %i "$F/u/a")" ] && echo yes)"
uf_check_eq "A: overlay.origin is the lower's handle, as the kernel's (same layout)" \
	"$(getfattr -h --absolute-names -n trusted.overlay.origin -e hex "$K/u/a" | sed -n 's/^trusted.overlay.origin=0x\(.\{10\}\).*/\1/p')" \
	"${ORIG:0:10}"

uf_log "A: remount"
fmount "$F" index=on || uf_finish
uf_check_eq "A: after a remount: same names, data, nlink" "$FV1" "$(view "$F/m" a b c d p sub/q)"
uf_check_eq "A: after a remount: same st_ino" "$LINO_A $LINO_A $LINO_A $LINO_A $LINO_P $LINO_P " \
	"$(inos "$F/m" c b a d sub/q p)"
echo w >>"$F/m/c"
uf_check_eq "A: after a remount a write through another name reaches all" \
	"hello|x|w|hello|x|w|hello|x|w|" "$(cat "$F/m/a" "$F/m/b" "$F/m/d" | tr '\n' '|')"
FV2=$(view "$F/m" a b c d p sub/q)
FI2=$(inos "$F/m" a b c d p sub/q s)
uf_umount "$F/m" || uf_finish

kmount "$F"
uf_check_eq "A: the kernel (index=on) shows our upper as we did" "$FV2" "$(view "$F/m" a b c d p sub/q)"
uf_check_eq "A: ... with the same st_ino" "$FI2" "$(inos "$F/m" a b c d p sub/q s)"
umount "$F/m"

# Unlinks and links: the union's count, as the kernel's, down to the end.
ops() {
	local m=$1
	rm "$m/b"
	stat -c '%n %h' "$m/a" "$m/c"
	rm "$m/a"
	stat -c '%n %h' "$m/c" "$m/d"
	ln "$m/c" "$m/e"
	stat -c '%n %h' "$m/e"
	rm "$m/c" "$m/d"
	stat -c '%n %h' "$m/e"
	cat "$m/e"
	rm "$m/e"
	rm "$m/p"
	stat -c '%n %h' "$m/sub/q"
	cat "$m/sub/q"
	ls "$m"
}
PI=$(getfattr -h --absolute-names -n trusted.overlay.origin -e hex "$F/u/p" |
	sed -n 's/^trusted.overlay.origin=0x//p')
kmount "$K"
echo w >>"$K/m/c"
KO=$(ops "$K/m" 2>&1 | sed "s|$K|R|g")
umount "$K/m"
fmount "$F" index=on || uf_finish
FO=$(ops "$F/m" 2>&1 | sed "s|$F|R|g")
uf_umount "$F/m" || uf_finish
uf_check_eq "A: unlink and link keep st_nlink as the kernel's" "$KO" "$FO"
uf_check "A: the last name gone, its index entry goes" test ! -e "$F/w/index/$ORIG"
uf_check "A: the other hard link's stays while a name shows it" test -f "$F/w/index/$PI"

# Renames: a lower-only name is linked up first, a replaced name counts.
renames() {
	local m=$1
	echo x >>"$m/a"
	mv "$m/b" "$m/bb"
	stat -c '%n %h' "$m/a" "$m/bb"
	mv "$m/s" "$m/c"
	stat -c '%n %h' "$m/a" "$m/d" "$m/c"
	mv "$m/sub/q" "$m/qq"
	stat -c '%n %h' "$m/p" "$m/qq"
	cat "$m/bb" "$m/qq"
	ls "$m"
}
for r in kr fr; do build "$UF_TMP/$r"; done
kmount "$UF_TMP/kr"
KO=$(renames "$UF_TMP/kr/m" 2>&1 | sed "s|$UF_TMP/kr|R|g")
umount "$UF_TMP/kr/m"
fmount "$UF_TMP/fr" index=on || uf_finish
FO=$(renames "$UF_TMP/fr/m" 2>&1 | sed "s|$UF_TMP/fr|R|g")
uf_umount "$UF_TMP/fr/m" || uf_finish
uf_check_eq "A: renames of indexed names count as the kernel's" "$KO" "$FO"
uf_check_eq "A: ... and leave the upper the kernel's did" "$(ondisk "$UF_TMP/kr")" "$(ondisk "$UF_TMP/fr")"

# unionfuse check --workdir: the index as left is clean (p's entry has no
# upper name, but sub/q shows it); an entry that counts no name (a hand
# edit) is an orphan, which --repair removes.
uf_check_out "A: check finds the index clean" "" "$BIN" check --workdir "$F/w" "$F/l:$F/u"
setfattr -n trusted.overlay.nlink -v U-1 "$F/w/index/$PI"
uf_check_out "A: check reports an orphan index entry" \
	"index-orphan index/$PI: no name of the union shows it
1 problem, 0 repaired [exit 4]" "$BIN" check --workdir "$F/w" "$F/l:$F/u"
uf_check_out "A: check --repair removes it" \
	"index-orphan index/$PI: no name of the union shows it [removed]
1 problem, 1 repaired [exit 1]" "$BIN" check -r --workdir "$F/w" "$F/l:$F/u"

# ---- B: index=off
uf_log "B: index=off"
G=$UF_TMP/g
build "$G"
LINO_S=$(stat -c %i "$G/l/s")
LINO_A=$(stat -c %i "$G/l/a")
fmount "$G" || uf_finish
echo z >>"$G/m/s"
echo x >>"$G/m/a"
GA=$(stat -c %i "$G/m/a")
uf_umount "$G/m" || uf_finish
uf_check "B: no index/ is written" test ! -e "$G/w/index"
fmount "$G" || uf_finish
dino() { "$UF_PYTHON" -c 'import os, sys; print(" ".join(str(e.inode()) for e in sorted(os.scandir(sys.argv[1]), key=lambda e: e.name) if e.name in sys.argv[2:]))' "$@"; }
uf_check_eq "B: after a remount its d_ino is that st_ino too (impure parent)" "$LINO_S" "$(dino "$G/m" s)"
uf_check_eq "B: a copied-up file keeps the lower's st_ino after a remount" "$LINO_S" "$(stat -c %i "$G/m/s")"
uf_check_eq "B: a broken-off hard link shows its own st_ino" "$(stat -c %i "$G/u/a") 1 $LINO_A 4" \
	"$(stat -c '%i %h' "$G/m/a") $(stat -c '%i %h' "$G/m/b")"
GV=$(inos "$G/m" s a b)
uf_umount "$G/m" || uf_finish
ovl_mount "$G/l" "$G/u" "$G/w" "$G/m" index=off
uf_check_eq "B: the kernel (index=off) shows the same st_ino" "$GV" "$(inos "$G/m" s a b)"
uf_check_eq "B: ... and the same d_ino" "$LINO_S" "$(dino "$G/m" s)"
umount "$G/m"

# ---- B2: a copy renamed in the union keeps its origin's st_ino across a
# remount: its origin is no longer the same name's below, so it is found by
# the lower's file handle (as root with trusted.* xattrs), as the kernel.
H=$UF_TMP/h
build "$H"
LINO_HS=$(stat -c %i "$H/l/s")
fmount "$H" || uf_finish
echo z >>"$H/m/s" && mv "$H/m/s" "$H/m/renamed"
uf_umount "$H/m" || uf_finish
fmount "$H" || uf_finish
uf_check_eq "B2: a renamed copy keeps the lower's st_ino (and d_ino) after a remount" \
	"$LINO_HS $LINO_HS" "$(stat -c %i "$H/m/renamed") $(dino "$H/m" renamed)"
uf_umount "$H/m" || uf_finish
ovl_mount "$H/l" "$H/u" "$H/w" "$H/m" index=off
uf_check_eq "B2: the kernel shows the same st_ino" "$LINO_HS" "$(stat -c %i "$H/m/renamed")"
umount "$H/m"

# ---- C: refusals
uf_log "C: refusals"
out=$("$BIN" -o index=on "$G/l:$G/u" "$G/m" 2>&1)
uf_check_eq "C: index=on without a workdir is refused" "1 yes" \
	"$? $(echo "$out" | grep -q 'needs a workdir' && echo yes)"
mkdir -p "$G/l2"
out=$("$BIN" -o "workdir=$F/w,index=on" "$G/l2:$F/u" "$G/m" 2>&1)
uf_check_eq "C: index=on with an upper of other lowers is refused" "1 yes" \
	"$? $(echo "$out" | grep -q 'other lower' && echo yes)"

uf_check_eq "the kernel's lower is untouched" "$LK" "$(lsum "$K")"
uf_check_eq "our lower is untouched" "$LF" "$(lsum "$F")"
uf_finish
