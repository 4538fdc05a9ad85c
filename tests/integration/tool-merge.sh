#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse merge, golden: a session made through a real unionfuse mount
# (and one made by the kernel overlayfs with redirect_dir=on,metacopy=on)
# covering whiteouts over the target and over the lower below it, opaque
# dirs, renamed dirs (redirects), metacopy files, hard links, xattrs, ACLs,
# holes, times, owners, modes and special files. The union's view before
# the merge must be what the lowers alone show after it, through the kernel
# overlayfs and through unionfuse; the upper is empty; the bottom lower is
# untouched; a second merge does nothing. Then refusal while mounted, and
# bad input.
# Usage: tool-merge.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd setfattr getfattr python3
uf_tmp

# An ACL u::rw-,u:nobody:r--,g::r--,m::r--,o::r-- in its xattr form (no
# setfacl needed): version 2, then (tag, perm, id) per entry.
ACL=0x0200000001000600ffffffff02000400feff000004000400ffffffff10000400ffffffff20000400ffffffff

# make_lowers B T: the bottom lower B and the target T.
make_lowers() {
	local B=$1 T=$2
	mkdir -p "$B/d_merged/sub" "$B/d_opq/old" "$B/d_ren/in" "$B/d_gone/x" "$T/d_merged" \
		"$T/d_opq/t" "$T/d_ren/tin" "$T/d_tonly/k" "$T/d_tofile"
	printf 'bottom\n' >"$B/f_both"
	printf 'target\n' >"$T/f_both"
	printf 'b only\n' >"$B/f_bonly"
	printf 't only\n' >"$T/f_tonly"
	printf 'b\n' >"$B/d_merged/fb"
	printf 't\n' >"$T/d_merged/ft"
	printf 'in\n' >"$B/d_ren/in/z"
	printf 'tin\n' >"$T/d_ren/tin/y"
	printf 'keep\n' >"$T/d_tonly/k/f"
	head -c 200000 /dev/urandom >"$T/f_big"
	printf 'o\n' >"$B/d_opq/old/f"
	printf 'x\n' >"$B/d_gone/x/f"
	ln -s f_both "$T/l_old"
}

# session M: what a user does in the union at M.
session() {
	local M=$1
	printf 'new\n' >"$M/f_new"
	printf 'changed\n' >"$M/f_both"
	rm "$M/f_tonly" "$M/f_bonly" "$M/l_old"
	rm -r "$M/d_gone"
	rm -r "$M/d_opq" && mkdir "$M/d_opq" && printf 'fresh\n' >"$M/d_opq/n"
	mv "$M/d_ren" "$M/d_moved"
	printf 'added\n' >"$M/d_moved/added"
	rm "$M/d_moved/in/z"
	chmod 0600 "$M/f_big"
	chown 1234:5678 "$M/f_big"
	printf 'l\n' >"$M/d_merged/linked" && ln "$M/d_merged/linked" "$M/hard2"
	setfattr -n user.colour -v blue "$M/d_merged/ft"
	setfattr -n user.dir -v yes "$M/d_merged"
	setfattr -n system.posix_acl_access -v "$ACL" "$M/f_new"
	truncate -s 10M "$M/sparse" && printf 'mid' | dd of="$M/sparse" bs=1 seek=5000000 conv=notrunc status=none
	touch -d '2001-02-03 04:05:06' "$M/f_new"
	mkfifo "$M/fifo"
	mknod "$M/null" c 1 3
	ln -s /nowhere "$M/l_new"
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$M/sock"
	chmod 4751 "$M/f_both"
	rm -r "$M/d_tofile" && printf 'was a dir\n' >"$M/d_tofile"
	mkdir "$M/d_new" && printf 'n\n' >"$M/d_new/f"
	rm -r "$M/d_tonly/k" && mkdir "$M/d_tonly/k2"
}

# view DIR: what programs see, and the hard-link structure.
view() {
	tree_snapshot "$1"
	ino_check "$1" | grep '^LINKS' | sed "s|$1||g"
	stat -c '%n %Y' "$1/f_new" 2>/dev/null | sed "s|$1||"
}

# after LABEL B T U BEFORE: the checks after a merge of B:T:U.
after() {
	local label=$1 B=$2 T=$3 U=$4 before=$5 K=$UF_TMP/k F=$UF_TMP/f
	mkdir -p "$K" "$F"
	uf_check_eq "$label: the upper is empty" "" "$(ls -A "$U")"
	ovl_mount "$T:$B" "" "" "$K" "redirect_dir=follow,metacopy=on"
	uf_check_eq "$label: the kernel shows the lowers alone as the union was" "$before" "$(view "$K")"
	ovl_umount "$K"
	uf_mount "$BIN" "$B:$T" "$F" -o ro || return
	uf_check_eq "$label: unionfuse shows the lowers alone as the union was" "$before" "$(view "$F")"
	pid=$(uf_daemon_pid "$F")
	uf_umount "$F"
	# The daemon drops its lock on the lowers when it exits.
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	uf_check_out "$label: a second merge does nothing" "nothing to merge" "$BIN" merge "$B:$T:$U"
}

# --- a unionfuse session
B=$UF_TMP/b T=$UF_TMP/t U=$UF_TMP/u M=$UF_TMP/m
mkdir -p "$B" "$T" "$U" "$M"
make_lowers "$B" "$T"
bsum=$(cd "$B" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)
uf_mount "$BIN" "$B:$T:$U" "$M" -o metacopy=on || uf_finish
session "$M"
before=$(view "$M")
uf_check_eq "the session made a metacopy file" "y" \
	"$(getfattr -h -n trusted.overlay.metacopy "$U/f_big" >/dev/null 2>&1 && echo y)"
uf_check_eq "the session made a redirect" "d_ren" \
	"$(getfattr -h --only-values -n trusted.overlay.redirect "$U/d_moved" 2>/dev/null)"

out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "refused while mounted: one line, exit 1" "1 1" "$? $(printf '%s\n' "$out" | wc -l)"
case $out in
"unionfuse merge: branch '$U' is in use by pid "*"unmount it first") uf_pass "says who uses it" ;;
*) uf_fail "says who uses it" "actual: $out" ;;
esac
pid=$(uf_daemon_pid "$M")
uf_umount "$M"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

# A mount that uses the target as its lower also refuses the merge.
K=$UF_TMP/k2
mkdir -p "$K" "$UF_TMP/e"
uf_mount "$BIN" "$T:$UF_TMP/e" "$K" || uf_finish
out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "refused while the target is a lower of a mount: exit 1" "1" "$?"
case $out in
"unionfuse merge: branch '$T' is in use by pid "*) uf_pass "names the target" ;;
*) uf_fail "names the target" "actual: $out" ;;
esac
pid=$(uf_daemon_pid "$K")
uf_umount "$K"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "merge: exit 0" "0" "$?" "$out"
after "unionfuse session" "$B" "$T" "$U" "$before"
uf_check_eq "the bottom lower is untouched" "$bsum" "$(cd "$B" && find . -printf '%p %y %m %s %T@\n' | sort | md5sum)"
uf_check_eq "a whiteout over the bottom lower stays one in the target" "c 0,0" "$(stat -c '%F' "$T/f_bonly" | sed 's/character special file/c/') $(stat -c '%t,%T' "$T/f_bonly")"
uf_check_eq "a target-only file is simply gone" "no" "$([ -e "$T/f_tonly" ] || [ -L "$T/f_tonly" ] && echo yes || echo no)"
uf_check_eq "the opaque dir stays opaque (the bottom has it)" "y" \
	"$(getfattr -h --only-values -n trusted.overlay.opaque "$T/d_opq" 2>/dev/null)"
uf_check_eq "holes stay holes" "yes" "$([ "$(stat -c %b "$T/sparse")" -lt 1000 ] && echo yes)"
uf_check_eq "no private xattr of the upper in the target's file" "" \
	"$(getfattr -h -d -m 'trusted.overlay' "$T/f_big" 2>/dev/null)"
uf_check_eq "the ACL came along" "$ACL" \
	"$(getfattr -h -e hex -n system.posix_acl_access "$T/f_new" 2>/dev/null | sed -n 's/^system.posix_acl_access=//p')"
uf_check_eq "no temporaries left in the target" "" "$(find "$T" -name '.wh..wh.*')"

# A second session over the merged target renames a dir the first one
# renamed (a redirect in the target, to the bottom): a chain.
uf_check_eq "the target's renamed dir reaches the bottom by a redirect" "/d_ren" \
	"$(getfattr -h --only-values -n trusted.overlay.redirect "$T/d_moved" 2>/dev/null)"
uf_mount "$BIN" "$B:$T:$U" "$M" || uf_finish
mv "$M/d_moved" "$M/d_again" && printf 'again\n' >"$M/d_again/in/a2"
before=$(view "$M")
pid=$(uf_daemon_pid "$M")
uf_umount "$M"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "merge of a rename of a renamed dir: exit 0" "0" "$?" "$out"
after "redirect chain" "$B" "$T" "$U" "$before"

# The aufs forms, by hand: ".wh.NAME" files and a ".wh..wh..opq" dir.
B=$UF_TMP/ab T=$UF_TMP/at U=$UF_TMP/au
mkdir -p "$B/d_o/x" "$T/d_o/y" "$U/d_o" "$U/d_p" "$T/d_p/z"
printf 't\n' >"$T/f1"
printf 'b\n' >"$B/f2" && printf 't\n' >"$T/f2"
touch "$U/.wh.f1" "$U/.wh.f2" "$U/d_o/.wh..wh..opq" "$U/d_p/.wh..wh..opq"
printf 'n\n' >"$U/d_o/n"
# Hostile: a ".wh.NAME" beside the upper's own NAME (a file, a dir), and an
# opaque dir with a redirect.
mkdir -p "$B/d_s/bs" "$T/d_s/ts" "$U/d_s" "$U/d_r" "$T/d_t"
printf 'mine\n' >"$U/f3" && printf 't\n' >"$T/f3" && touch "$U/.wh.f3" "$U/.wh.d_s"
printf 's\n' >"$U/d_s/s"
setfattr -n trusted.overlay.opaque -v y "$U/d_r" && setfattr -n trusted.overlay.redirect -v d_t "$U/d_r"
uf_mount "$BIN" "$B:$T:$U" "$M" -o ro || uf_finish
before=$(view "$M")
pid=$(uf_daemon_pid "$M")
uf_umount "$M"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
uf_check_eq "aufs forms: merged, 9 entries" "merged 9 entries" "$("$BIN" merge "$B:$T:$U" 2>&1 | cut -d' ' -f1-3)"
F=$UF_TMP/f
uf_mount "$BIN" "$B:$T" "$F" -o ro || uf_finish
uf_check_eq "aufs forms: unionfuse shows the lowers alone as the union was" "$before" "$(view "$F")"
pid=$(uf_daemon_pid "$F")
uf_umount "$F"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
uf_check_eq "aufs forms: the upper is empty" "" "$(ls -A "$U")"
uf_check_eq "aufs forms: the target" "c f2 0,0 opaque=y
d_o: n
d_p:" "$(stat -c '%F %n %t,%T' "$T/f2" | sed 's/character special file/c/;s|[^ ]*/||') opaque=$(getfattr -h --only-values -n trusted.overlay.opaque "$T/d_o" 2>/dev/null)
d_o: $(ls -A "$T/d_o")
d_p:$(ls -A "$T/d_p")"
uf_check_eq "aufs forms: f1 gone, d_p not opaque (nothing below)" "no no" \
	"$([ -e "$T/f1" ] && echo yes || echo no) $(getfattr -h -n trusted.overlay.opaque "$T/d_p" >/dev/null 2>&1 && echo yes || echo no)"

# --- a kernel overlayfs session (redirect_dir=on, metacopy=on)
B=$UF_TMP/kb T=$UF_TMP/kt U=$UF_TMP/ku W=$UF_TMP/kw M=$UF_TMP/km
mkdir -p "$B" "$T" "$U" "$W" "$M"
make_lowers "$B" "$T"
ovl_mount "$T:$B" "$U" "$W" "$M" "redirect_dir=on,metacopy=on"
session "$M"
before=$(view "$M")
ovl_umount "$M"
uf_check_eq "the kernel made a metacopy file" "y" \
	"$(getfattr -h -n trusted.overlay.metacopy "$U/f_big" >/dev/null 2>&1 && echo y)"
out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "merge of the kernel's upper: exit 0" "0" "$?" "$out"
after "kernel session" "$B" "$T" "$U" "$before"
uf_check_eq "the workdir is kept" "yes" "$([ -d "$W" ] && echo yes)"

# --- damage is refused; bad input
B=$UF_TMP/db T=$UF_TMP/dt U=$UF_TMP/du
mkdir -p "$B" "$T" "$U/d"
printf 'x\n' >"$U/f"
setfattr -n trusted.overlay.redirect -v /nonexistent "$U/d"
mkdir "$U/.wh..wh.uf-tmp.99999.1"
out=$("$BIN" merge "$B:$T:$U" 2>&1)
uf_check_eq "a dangling redirect is refused: exit 1, nothing merged" "1 yes" "$? $([ -e "$U/f" ] && [ ! -e "$T/f" ] && echo yes)"
uf_check_eq "... saying what check says, and the temporary is gone" "temporary .wh..wh.uf-tmp.99999.1: left by a daemon that died [removed]
redirect-dangling d: redirect to '/nonexistent': no directory there in the lowers [left]
unionfuse merge: upper '$U' has 1 problem (above; see unionfuse check): not merged" "$out"
uf_check_out "no branches: one line, exit 2" "unionfuse merge: give one LOWER[:LOWER...]:UPPER (see --help) [exit 2]" "$BIN" merge
uf_check_out "an upper only: one line" "unionfuse merge: need at least one lower branch and the upper: LOWER:UPPER [exit 1]" "$BIN" merge "$U"
uf_check_out "a missing branch: one line" "unionfuse merge: branch '$UF_TMP/nope': No such file or directory [exit 1]" "$BIN" merge "$B:$UF_TMP/nope"
uf_check_out "an unknown option: one line" "unionfuse merge: unknown option '--bogus' (see --help) [exit 2]" "$BIN" merge --bogus "$B:$U"
uf_check_out "upper and target one dir: one line" "unionfuse merge: the upper and the target are one directory [exit 1]" "$BIN" merge "$B:$T:$T"
uf_finish
