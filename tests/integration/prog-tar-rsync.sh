#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tar, rsync and sed -i through the union, each compared with the same
# command run on a plain copy of the lower branch:
#  - tar -x (--xattrs, numeric owners, -p) of ~3000 small files with
#    symlinks, hard links, fifos, a device, setuid/setgid modes, user.* and
#    trusted.* xattrs, over a lower that already has many of those names
#    (other content, mode, owner, xattrs, type); then tar -d finds nothing;
#  - rsync -aHAX --delete of another tree over an older copy of it in the
#    lower; rsync -n -i afterwards has nothing left to do; an extended POSIX
#    ACL (system.posix_acl_access/default) survives rsync -A; rsync of the
#    union back out reproduces the source;
#  - sed -i (temp file renamed over the original) on lower files, through a
#    symlink with --follow-symlinks, and on a hard-linked lower file.
# Then the lower is unchanged and a fresh mount shows the plain copy's tree.
# Usage: prog-tar-rsync.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
HELP=$(cd "$(dirname "$0")" && pwd)/helpers/uftree.py

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd tar rsync sed getfattr
uf_tmp
uftree() { "$UF_PYTHON" "$HELP" "$@"; }

# same_text DESC EXPECTED ACTUAL [CMD]: like uf_check_eq, but on a mismatch
# print only the diff (the texts are whole-tree listings).
same_text() {
	if [ "$2" == "$3" ]; then
		uf_pass "$1"
		return 0
	fi
	uf_fail "$1" ${4:+"command: $4"} "diff (-expected +actual), first 40 lines:" \
		"$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | grep '^[-+]' | head -n 40)"
	return 1
}

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
P=$UF_TMP/plain
S=$UF_TMP/src
S2=$UF_TMP/src2
mkdir -p "$L" "$U" "$M"
TAROPTS=(--format=posix --xattrs --xattrs-include='*' --numeric-owner)
RSYNC=(rsync -aHAX --delete)

# --- trees: the archive's, the rsync source, and the lower with old versions
setup() {
	uftree make "$S" 11 3000 &&
		tar "${TAROPTS[@]}" -cf "$UF_TMP/a.tar" -C "$S" . &&
		uftree make "$L/tx" 11 3000 overlap &&
		uftree make "$S2" 22 1500 &&
		uftree make "$L/dst" 22 1500 old &&
		mkdir -p "$UF_TMP/acl/dir" "$L/sedd" &&
		printf 'acl file\n' >"$UF_TMP/acl/file" &&
		uftree acl "$UF_TMP/acl/file" && uftree acl "$UF_TMP/acl/dir" default || return 1
	local i
	for i in $(seq -w 1 60); do
		printf 'alpha %s\nbeta alpha\ngamma\n' "$i" >"$L/sedd/s$i.txt"
	done
	chmod 640 "$L/sedd/s01.txt" && chown 1234:5678 "$L/sedd/s02.txt" && chmod 4755 "$L/sedd/s03.txt" &&
		setfattr -n user.keep -v yes "$L/sedd/s04.txt" &&
		ln -s s05.txt "$L/sedd/link-to-05" && ln "$L/sedd/s06.txt" "$L/sedd/hard-06" || return 1
	cp -a "$L" "$P"
}
t0=$SECONDS
out=$(setup 2>&1) || { uf_fail "building the trees" "$out"; uf_finish; }
uf_log "setup: $((SECONDS - t0)) s; archive: $(tar -tf "$UF_TMP/a.tar" | wc -l) entries; lower: $(find "$L" | wc -l) entries"
lower_before=$(tree_snapshot "$L"; uftree times "$L")
same_text "sanity: the plain copy equals the lower" "$(tree_snapshot "$L")" "$(tree_snapshot "$P")"

uf_mount "$BIN" "$L:$U" "$M" || uf_finish

# run_both DESC CMD-WITH-@D@: run in the plain copy, then in the union;
# outputs (with exit status) must be equal.
run_both() {
	local desc=$1 cmd=$2 p m rc
	rc=0; p=$(eval "${cmd//@D@/$P}" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && p="$p [exit $rc]"
	rc=0; m=$(eval "${cmd//@D@/$M}" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && m="$m [exit $rc]"
	p=${p//$P/DIR}
	m=${m//$M/DIR}
	uf_check_eq "$desc: same output/status as on a plain dir" "$p" "$m" "${cmd//@D@/MNT}"
}

# same_tree DESC SUBDIR: tree_snapshot and mtimes of plain/SUBDIR == union/SUBDIR
same_tree() {
	same_text "$1: tree_snapshot of the union equals the plain dir's" \
		"$(tree_snapshot "$P/$2")" "$(tree_snapshot "$M/$2")" "diff <(tree_snapshot $P/$2) <(tree_snapshot $M/$2)"
	same_text "$1: mtimes of the union equal the plain dir's" \
		"$(uftree times "$P/$2")" "$(uftree times "$M/$2")" "diff <(uftree.py times $P/$2) <(uftree.py times $M/$2)"
}

# --- tar
t0=$SECONDS
run_both "tar -x over the lower's older names" "tar ${TAROPTS[*]} -xpf '$UF_TMP/a.tar' -C @D@/tx"
uf_log "tar -x: $((SECONDS - t0)) s for both"
same_tree "after tar -x" tx
uf_check_out "tar -d against the union finds no difference" "" \
	tar "${TAROPTS[@]}" -df "$UF_TMP/a.tar" -C "$M/tx"
same_text "ino_check of the union after tar" "$(ino_check "$P/tx" 2>&1 | sed "s|$P|DIR|g")" \
	"$(ino_check "$M/tx" 2>&1 | sed "s|$M|DIR|g")"

# --- rsync into the union
t0=$SECONDS
run_both "rsync -aHAX --delete over an older copy" "${RSYNC[*]} '$S2/' @D@/dst/"
uf_log "rsync: $((SECONDS - t0)) s for both"
same_tree "after rsync" dst
same_text "tree_snapshot of the union's copy equals the rsync source" \
	"$(tree_snapshot "$S2")" "$(tree_snapshot "$M/dst")"
uf_check_out "rsync -n -i: nothing left to do" "" "${RSYNC[@]}" -n -i "$S2/" "$M/dst/"
uf_check_out "rsync -n -i -c (checksums): nothing left to do" "" "${RSYNC[@]}" -n -i -c "$S2/" "$M/dst/"
uf_check "rsync -aHAX of the union back out to a plain dir" "${RSYNC[@]}" "$M/dst/" "$UF_TMP/back/"
same_text "the copy made from the union equals the source" \
	"$(tree_snapshot "$S2")" "$(tree_snapshot "$UF_TMP/back")"

# --- rsync -A with extended ACLs
run_both "rsync -aHAX of files with extended POSIX ACLs" "${RSYNC[*]} '$UF_TMP/acl/' @D@/acl/"
acl() { getfattr -h --absolute-names -e hex -n "$2" "$1" 2>&1 | grep '=' ; }
uf_check_eq "system.posix_acl_access of acl/file survives" "$(acl "$UF_TMP/acl/file" system.posix_acl_access)" \
	"$(acl "$M/acl/file" system.posix_acl_access | sed "s|$M|$UF_TMP|")"
uf_check_eq "system.posix_acl_default of acl/dir survives" "$(acl "$UF_TMP/acl/dir" system.posix_acl_default)" \
	"$(acl "$M/acl/dir" system.posix_acl_default | sed "s|$M|$UF_TMP|")"
uf_check_out "rsync -n -i for the ACL tree: nothing left to do" "" "${RSYNC[@]}" -n -i "$UF_TMP/acl/" "$M/acl/"

# --- sed -i on lower files
run_both "sed -i on 60 lower files" "sed -i 's/alpha/OMEGA/g' @D@/sedd/s*.txt && cat @D@/sedd/s*.txt | md5sum"
run_both "sed -i --follow-symlinks through a lower symlink" \
	"sed -i --follow-symlinks 's/gamma/DELTA/' @D@/sedd/link-to-05 && cat @D@/sedd/s05.txt"
run_both "sed -i on a hard-linked lower file (breaks the link)" \
	"sed -i 's/beta/BETA/' @D@/sedd/hard-06 && cat @D@/sedd/s06.txt @D@/sedd/hard-06 && stat -c %h @D@/sedd/s06.txt @D@/sedd/hard-06"
run_both "sed -i a second time on the now-upper files" "sed -i 's/OMEGA/omega2/' @D@/sedd/s0*.txt && cat @D@/sedd/s0*.txt | md5sum"
same_text "sedd after sed -i: tree_snapshot equals the plain dir's" \
	"$(tree_snapshot "$P/sedd")" "$(tree_snapshot "$M/sedd")"
uf_check_out "no sed temp files left" "" find "$M/sedd" -name 'sed??????'
uf_check_eq "ls -f sedd lists every name once" "$(ls -f "$P/sedd" | sort)" "$(ls -f "$M/sedd" | sort)"
uf_umount "$M"

# --- branches
same_text "lower branch unchanged (tree_snapshot and mtimes)" "$lower_before" \
	"$(tree_snapshot "$L"; uftree times "$L")"
uf_check_out "upper: no copy-up temp files" "" find "$U" -name '.wh..wh.uf-tmp.*'
uf_mount "$BIN" "$L:$U" "$M" || uf_finish
same_text "after remount: the whole union equals the plain dir (tree_snapshot)" \
	"$(tree_snapshot "$P")" "$(tree_snapshot "$M")"
same_text "after remount: mtimes of tx and dst equal the plain dir's" \
	"$(uftree times "$P/tx"; uftree times "$P/dst")" "$(uftree times "$M/tx"; uftree times "$M/dst")"
uf_umount "$M"
uf_finish
