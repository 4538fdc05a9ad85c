#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse merge killed (SIGKILL) at every step of a merge, then run again:
# after each kill the union of the branches (through the kernel overlayfs,
# redirect_dir=on,metacopy=on) shows exactly the old tree, and after the
# rerun the lowers alone show it and the upper is empty. The kill points come
# from the test hook UF_MERGE_KILL_AT=N (the tool kills itself before its
# Nth step). The session has renamed dirs that swap names and a rename
# inside a renamed dir (redirects whose sources later steps replace),
# whiteouts over both lowers, opaque dirs, a metacopy file, hard links, a
# file replacing a dir and special files.
# Usage: tool-merge-crash.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd setfattr getfattr
uf_tmp

P=$UF_TMP/pristine
mkdir -p "$P/b/d_a/in" "$P/b/d_b" "$P/b/d_opq/x" "$P/t/d_a/ta" "$P/t/d_b/tb" "$P/t/d_m/sub" \
	"$P/t/d_f" "$P/u" "$UF_TMP/m"
printf 'a\n' >"$P/b/d_a/in/f"
printf 'b\n' >"$P/b/d_b/f"
printf 'x\n' >"$P/b/d_opq/x/f"
printf 'ta\n' >"$P/t/d_a/ta/f"
printf 'tb\n' >"$P/t/d_b/tb/f"
printf 'bot\n' >"$P/b/f_both"
printf 'top\n' >"$P/t/f_both"
printf 't\n' >"$P/t/f_t"
printf 'm\n' >"$P/t/d_m/sub/f"
head -c 100000 /dev/urandom >"$P/t/f_big"
for i in 1 2 3 4 5; do printf '%s\n' "$i" >"$P/t/d_m/f$i"; done

uf_mount "$BIN" "$P/b:$P/t:$P/u" "$UF_TMP/m" -o metacopy=on || uf_finish
(
	cd "$UF_TMP/m" || exit 1
	mv d_a d_tmp && mv d_b d_a && mv d_tmp d_b # a swap: each names the other
	mv d_m/sub d_b/moved                       # into a renamed dir
	printf 'new\n' >d_a/new
	rm f_both f_t d_m/f1
	rm -r d_opq && mkdir d_opq && printf 'o\n' >d_opq/o
	chmod 0640 f_big
	rm -r d_f && printf 'f\n' >d_f
	printf 'h\n' >d_m/h1 && ln d_m/h1 h2
	mknod dev c 1 5 && mkfifo d_m/fifo && ln -s d_a sym
	mkdir -p n1/n2/n3 && printf 'deep\n' >n1/n2/n3/f
	for i in 2 3 4 5; do printf 'w%s\n' "$i" >>"d_m/f$i"; done
) || uf_fail "the session"
pid=$(uf_daemon_pid "$UF_TMP/m")
uf_umount "$UF_TMP/m"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

K=$UF_TMP/k W=$UF_TMP/w
mkdir -p "$K" "$W"
# view: the union of B T U (U empty: the lowers alone), through the kernel.
view() {
	local out
	if [ -n "$3" ]; then
		ovl_mount "$2:$1" "$3" "$W" "$K" "redirect_dir=on,metacopy=on"
	else
		ovl_mount "$2:$1" "" "" "$K" "redirect_dir=follow,metacopy=on"
	fi
	out=$(tree_snapshot "$K")
	printf '%s\n%s\n' "$out" "$(ino_check "$K" | grep '^LINKS' | sed "s|$K||g")"
	umount "$K"
}

before=$(view "$P/b" "$P/t" "$P/u")
R=$UF_TMP/run
rm -rf "$R" && cp -a "$P" "$R"
out=$("$BIN" merge "$R/b:$R/t:$R/u")
steps=$(printf '%s\n' "$out" | sed -n 's/.*(\([0-9]*\) steps)$/\1/p')
uf_check_eq "an uninterrupted merge: the lowers show the union" "$before" "$(view "$R/b" "$R/t" "")"
uf_log "a merge takes $steps steps"
[ "${steps:-0}" -ge 50 ] && uf_pass "at least 50 kill points ($steps)" ||
	uf_fail "at least 50 kill points" "actual: ${steps:-none} ($out)"

bad_view=() bad_final=() bad_rc=()
# Four kill points of seven (all of them would take too long for CI), each
# with a fresh copy.
npoints=0
for n in $(seq 1 "${steps:-0}"); do
	case $((n % 7)) in 1 | 3 | 5) [ "$n" -ne "$steps" ] && continue ;; esac
	npoints=$((npoints + 1))
	rm -rf "$R" && cp -a "$P" "$R"
	rc=$(UF_MERGE_KILL_AT=$n "$BIN" merge "$R/b:$R/t:$R/u" >/dev/null 2>&1; echo $?)
	[ "$rc" -eq 137 ] || bad_rc+=("kill at $n: exit $rc")
	v=$(view "$R/b" "$R/t" "$R/u")
	[ "$v" == "$before" ] || bad_view+=("kill at $n: $(diff <(printf '%s\n' "$before") <(printf '%s\n' "$v") | grep '^[<>]' | head -n 6)")
	# Every fifth point, the rerun is killed too, a few steps in.
	if [ $((n % 5)) -eq 0 ]; then
		rc=$(UF_MERGE_KILL_AT=5 "$BIN" merge "$R/b:$R/t:$R/u" >/dev/null 2>&1; echo $?)
		v=$(view "$R/b" "$R/t" "$R/u")
		[ "$v" == "$before" ] || bad_view+=("kill at $n, then 5: $(diff <(printf '%s\n' "$before") <(printf '%s\n' "$v") | grep '^[<>]' | head -n 6)")
	fi
	out=$("$BIN" merge "$R/b:$R/t:$R/u" 2>&1) || bad_final+=("rerun after $n: $out")
	v=$(view "$R/b" "$R/t" "")
	[ "$v" == "$before" ] || bad_final+=("after $n and a rerun: $(diff <(printf '%s\n' "$before") <(printf '%s\n' "$v") | grep '^[<>]' | head -n 6)")
	[ -z "$(ls -A "$R/u")" ] || bad_final+=("after $n and a rerun: the upper holds $(ls -A "$R/u" | head -n 3 | tr '\n' ' ')")
	[ -z "$(find "$R/t" -name '.wh..wh.*')" ] || bad_final+=("after $n and a rerun: temporaries in the target")
done
[ ${#bad_rc[@]} -eq 0 ] && uf_pass "each run died at its kill point" || uf_fail "a run did not die at its kill point" "${bad_rc[@]}"
[ "$npoints" -ge 50 ] && uf_pass "$npoints distinct kill points" || uf_fail "only $npoints kill points"
[ ${#bad_view[@]} -eq 0 ] && uf_pass "after each of $npoints kills the union shows the old tree" ||
	uf_fail "${#bad_view[@]} kills changed the union's view" "${bad_view[@]:0:5}"
[ ${#bad_final[@]} -eq 0 ] && uf_pass "each rerun finished the merge: lowers show the union, upper empty" ||
	uf_fail "${#bad_final[@]} reruns did not finish right" "${bad_final[@]:0:5}"
uf_finish
