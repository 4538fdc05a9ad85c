#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Renamed directories in stacked layers: sessions stacked on sessions,
# written alternately by the kernel overlayfs (redirect_dir=on) and by
# unionfuse.
#
#   stacked-redirects.sh UNIONFUSE_BIN [SEEDS] [NOPS]
#
# A stack starts as layer l0. Each session mounts the stack (l0 at the
# bottom) with a new empty upper, once with the kernel and once with
# unionfuse, and runs the same operations on both: renames of renamed dirs,
# nested renames, renames back to old names, rmdir of non-empty renamed
# dirs, files created and removed in them. Then one implementation's upper
# (kernel and unionfuse in turn) becomes the next layer, up to 5 layers.
# After each session:
#   - the results of the operations and the trees both saw are the same;
#   - both uppers hold the same names and types, and byte-identical
#     overlay.redirect values (the same operations on the
#     same stack must write the same format);
#   - the layers below are untouched;
#   - a fresh read-only kernel mount and a fresh unionfuse mount of the new
#     stack show the tree the session left.
# Two hand-written stacks (the cases of the issue, each writer order), then
# seeded random sessions (fsops with FSOPS_MIX=dirs).
# Environment: UF_STACK_SEEDS (default 1-3), UF_STACK_OPS (default 150
# operations per session), UF_STACK_KEEP=1 keeps the work dir.
set -u
BIN=${1:?usage: $0 UNIONFUSE_BIN [SEEDS] [NOPS]}
SEEDS=${UF_STACK_SEEDS:-${2:-1-3}}
NOPS=${UF_STACK_OPS:-${3:-150}}
NSESS=4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"

uf_require_root
uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd setfattr cc
uf_tmp
if [ "${UF_STACK_KEEP:-}" = 1 ]; then
	W=$(mktemp -d /tmp/uf-stack.XXXXXX)
	uf_log "work dir kept: $W"
else
	W=$UF_TMP
fi

FSOPS=${FSOPS:-}
if [ -z "$FSOPS" ]; then
	FSOPS=$UF_TMP/fsops
	cc -std=c11 -D_GNU_SOURCE -O2 -Wall -o "$FSOPS" "$here/fsops.c" ||
		{ uf_fail "building fsops"; uf_finish; }
fi

# ------------------------------------------------------------ the stack
make_l0() { # $1 dir: names from fsops's pool a..h, dirs three deep
	mkdir -p "$1"/a/b/c "$1"/a/d "$1"/b/e "$1"/c/f/g "$1"/d "$1"/e/a "$1"/h/h
	echo a/f >"$1"/a/f
	echo a/b/c/h >"$1"/a/b/c/h
	echo a/d/g >"$1"/a/d/g
	echo b/e/a >"$1"/b/e/a
	echo c/f/g/b >"$1"/c/f/g/b
	echo d/c >"$1"/d/c
	echo e/a/d >"$1"/e/a/d
	echo g >"$1"/g
	echo h/h/e >"$1"/h/h/e
	chmod 0750 "$1"/a/d
	setfattr -n user.l0 -v yes "$1"/c/f
}

lowers_top_first() { # $1 stack dir, $2 number of layers
	local i s=
	for ((i = $2 - 1; i >= 0; i--)); do s+="${s:+:}$1/l$i"; done
	echo "$s"
}

lowers_bottom_first() {
	local i s=
	for ((i = 0; i < $2; i++)); do s+="${s:+:}$1/l$i"; done
	echo "$s"
}

raw_layers() { # exhaustive listing of the layers, to see they stay as they are
	local i
	for ((i = 0; i < $2; i++)); do "$FSOPS" --raw "$1/l$i"; done
}

# check_same DESC FILE_EXPECTED FILE_ACTUAL
check_same() {
	if cmp -s "$2" "$3"; then
		uf_pass "$1"
	else
		uf_fail "$1" "diff -u $2 $3 (first 40 lines):" "$(diff -u "$2" "$3" | sed -n '3,42p')"
	fi
}

# ------------------------------------------------------ hand-written cases
# One session's operations, as "OP PATH [ARG]" lines for fsutil.py errno.
hand_ops() {
	case $1 in
	1) cat <<-'EOF' ;;
		rename a x
		rename x/b b/e/b2
		rename x e/a/x2
		mkdir e/a/x2/new
		unlink e/a/x2/f
		open e/a/x2/d/n O_CREAT|O_WRONLY
		rename c/f c/f2
		listdir e/a/x2
		EOF
	2) cat <<-'EOF' ;;
		rename e/a/x2 top
		rename top/d top/d2
		rename b/e/b2 b2
		rename c/f2 c/f3
		rename c c9
		rmdir top
		rmdir top/new
		rmdir b2
		open top/m O_CREAT|O_WRONLY
		listdir top
		listdir b2/c
		EOF
	3) cat <<-'EOF' ;;
		open top/n3 O_CREAT|O_WRONLY
		open b2/c/n4 O_CREAT|O_WRONLY
		mkdir c9/f3/new3
		rmdir top/d2
		rmdir c9/f3
		rename top/d2 d2
		rename c9/f3/g c9/g
		listdir d2
		listdir top
		EOF
	4) cat <<-'EOF' ;;
		rename top a
		rename d2 a/d
		rename b2 a/b
		rename c9 c
		rename c/f3 c/f
		rename c/g c/f/g
		rmdir a
		rmdir a/d
		rmdir c/f/g
		unlink c/f/g/b
		rmdir c/f/g
		listdir a
		listdir a/d
		listdir a/b/c
		listdir c/f
		lstat e/a/x2
		lstat top
		EOF
	esac
}

run_hand() { # $1 mount point, $2 session
	local op p a r
	while read -r op p a; do
		r=$(cd "$1" && uf_fsutil errno "$op" "$p" ${a:+"$a"} 2>&1)
		echo "$op $p${a:+ $a} = $r"
	done < <(hand_ops "$2")
}

# ---------------------------------------------------------------- sessions
# session STACK K WRITER KIND ARG: session K over layers l0..l(K-1) on both
# implementations; KIND "hand" (ARG unused) or "random" (ARG: fsops seed);
# WRITER (k or u) names whose upper becomes layer lK.
session() {
	local st=$1 k=$2 writer=$3 kind=$4 arg=$5 side d before
	local what="$(basename "$st") session $k ($([ "$writer" = k ] && echo kernel || echo unionfuse) writes l$k)"
	before=$(raw_layers "$st" "$k")
	for side in k u; do
		d=$st/s$k/$side
		mkdir -p "$d/u" "$d/w" "$d/m"
		if [ $side = k ]; then
			ovl_mount "$(lowers_top_first "$st" "$k")" "$d/u" "$d/w" "$d/m" redirect_dir=on
		else
			uf_mount "$BIN" "$(lowers_bottom_first "$st" "$k"):$d/u" "$d/m" -o metacopy=off ||
				return 1
		fi
		if [ "$kind" = hand ]; then
			run_hand "$d/m" "$k" >"$d/ops.log"
		else
			FSOPS_MIX=dirs timeout 120 "$FSOPS" "$arg" "$NOPS" "$d/m" >"$d/ops.log" 2>&1
		fi
		"$FSOPS" --tree "$d/m" >"$d/tree" 2>&1
		if [ $side = k ]; then ovl_umount "$d/m"; else uf_umount "$d/m" || return 1; fi
		# the kernel also marks a dir made in a merged dir opaque, "just an
		# optimization" (ovl_create_upper()); unionfuse does not: nothing
		# below can have that name. So opaque values are not compared; what
		# they do is, by the trees of the fresh mounts.
		"$FSOPS" --format "$d/u" | sed "s/ opaque='y'$//" >"$d/format"
		uf_check_eq "$what: layers below untouched by the $([ $side = k ] && echo kernel || echo unionfuse) session" \
			"$before" "$(raw_layers "$st" "$k")"
	done
	check_same "$what: operation results" "$st/s$k/k/ops.log" "$st/s$k/u/ops.log"
	cat "$st/s$k/k/ops.log" >>"$st/ops.log"
	check_same "$what: tree seen" "$st/s$k/k/tree" "$st/s$k/u/tree"
	check_same "$what: upper written (names, types, redirect values)" \
		"$st/s$k/k/format" "$st/s$k/u/format"

	# the writer's upper becomes the next layer; fresh mounts of the stack
	mv "$st/s$k/$writer/u" "$st/l$k"
	mkdir -p "$st/fk" "$st/fu"
	ovl_mount "$(lowers_top_first "$st" $((k + 1)))" "" "" "$st/fk" redirect_dir=on
	"$FSOPS" --tree "$st/fk" >"$st/s$k/fresh.k" 2>&1
	ovl_umount "$st/fk"
	uf_mount "$BIN" "$(lowers_bottom_first "$st" $((k + 1)))" "$st/fu" -o ro || return 1
	"$FSOPS" --tree "$st/fu" >"$st/s$k/fresh.u" 2>&1
	uf_umount "$st/fu" || return 1
	check_same "$what: fresh kernel mount of the stack shows the session's tree" \
		"$st/s$k/$writer/tree" "$st/s$k/fresh.k"
	check_same "$what: fresh unionfuse mount of the stack shows the same" \
		"$st/s$k/fresh.k" "$st/s$k/fresh.u"
	[ "${UF_STACK_KEEP:-}" = 1 ] || rm -rf "$st/s$k"
}

# stack NAME FIRST KIND SEED: NSESS sessions; the kernel writes the odd
# layers when FIRST is k, unionfuse when it is u.
stack() {
	local st=$W/$1 first=$2 kind=$3 seed=$4 k writer
	mkdir -p "$st"
	make_l0 "$st/l0"
	for ((k = 1; k <= NSESS; k++)); do
		if [ $((k % 2)) = 1 ]; then writer=$first; else writer=$([ "$first" = k ] && echo u || echo k); fi
		session "$st" "$k" "$writer" "$kind" $((seed * 10 + k)) || return 1
	done
	# the hand-written stack must have hit what it was written for
	if [ "$kind" = hand ]; then
		uf_check_eq "$1: rmdir of non-empty renamed dirs fails in every session" \
			"rmdir top = ENOTEMPTY
rmdir top/d2 = ENOTEMPTY
rmdir a = ENOTEMPTY
rmdir a/d = ENOTEMPTY" \
			"$(grep -E '^rmdir (top|top/d2|a|a/d) ' "$st/ops.log")"
	fi
	[ "${UF_STACK_KEEP:-}" = 1 ] || rm -rf "$st"
}

stack hand-kernel-first k hand 0
stack hand-unionfuse-first u hand 0
case $SEEDS in
*-*) seeds=$(seq "${SEEDS%-*}" "${SEEDS#*-}") ;;
*) seeds=${SEEDS//,/ } ;;
esac
for s in $seeds; do
	stack "seed$s" "$([ $((s % 2)) = 1 ] && echo u || echo k)" random "$s"
done
uf_finish
