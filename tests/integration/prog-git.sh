#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# git on a repository that lives in a lower branch: ~330 files, several
# commits, a pack plus loose objects, a second branch.  The same steps run
# in a plain copy of the lower (the reference) and through the union, with
# fixed author/committer dates so commit ids must match: status clean, edit
# (append, rewrite, delete, git mv, chmod, new file), add, commit, checkout
# of the other branch and back, merge, log, fsck, gc --prune=now (which
# deletes packed loose objects and their fan-out dirs, i.e. whiteouts and
# rmdir of merged dirs), fsck again.  Then: the lower is unchanged, the
# upper holds the changes, and a fresh mount of the same branches shows the
# same repository.
# Usage: prog-git.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_cmd git sha256sum
uf_tmp

L=$UF_TMP/lower
U=$UF_TMP/upper
M=$UF_TMP/mnt
R=$UF_TMP/ref
mkdir -p "$L" "$U" "$M" "$UF_TMP/home"

export HOME=$UF_TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.org
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=t@example.org
export GIT_AUTHOR_DATE='2021-03-04T05:06:07Z' GIT_COMMITTER_DATE='2021-03-04T05:06:07Z'
export GIT_PAGER=cat PAGER=cat TZ=UTC
G=(git -c pack.threads=1 -c gc.autoDetach=false -c core.fsync=all -c init.defaultBranch=main
	-c advice.detachedHead=false -c safe.directory='*')

# --- the repository, built in the lower before anything is mounted
build_repo() {
	local d i
	mkdir "$L/repo"
	cd "$L/repo" || return 1
	"${G[@]}" init -q . || return 1
	for d in $(seq -w 0 21); do
		mkdir "d$d"
		for i in $(seq -w 0 14); do
			printf 'file d%s/f%s\nline two %s%s\n%s\n' "$d" "$i" "$d" "$i" \
				"$(seq "1$d$i" 7 "2$d$i" | tr '\n' ' ')" >"d$d/f0$i.txt"
		done
	done
	head -c 300000 /dev/urandom >blob.bin
	printf '#!/bin/sh\necho hi\n' >run.sh
	chmod 755 run.sh
	ln -s d00/f000.txt link
	"${G[@]}" add -A && "${G[@]}" commit -q -m 'initial' || return 1
	for i in $(seq -w 0 39); do echo "main change $i" >>"d$((10#$i % 22 / 10))$((10#$i % 10))/f001.txt"; done
	sed -i 's/line two/LINE TWO/' d05/*.txt
	"${G[@]}" add -A && "${G[@]}" commit -q -m 'second' || return 1
	"${G[@]}" repack -q -d || return 1    # a pack; later objects stay loose
	"${G[@]}" checkout -q -b feature || return 1
	mkdir newdir
	for i in $(seq 1 20); do echo "feature file $i" >"newdir/n$i.txt"; done
	"${G[@]}" rm -q -r d21 || return 1
	for i in $(seq -w 0 9); do echo "feature $i" >>"d20/f0$i.txt"; done
	"${G[@]}" mv d19/f000.txt d19/renamed.txt || return 1
	"${G[@]}" add -A && "${G[@]}" commit -q -m 'feature one' || return 1
	echo "more feature" >>newdir/n1.txt
	"${G[@]}" commit -q -a -m 'feature two' || return 1
	"${G[@]}" checkout -q main || return 1
	for i in $(seq -w 0 14); do echo "main again $i" >>"d12/f0$i.txt"; done
	"${G[@]}" rm -q d13/f000.txt d13/f001.txt d13/f002.txt d13/f003.txt d13/f004.txt || return 1
	"${G[@]}" commit -q -a -m 'main work' || return 1
	"${G[@]}" status --porcelain
}
out=$( (build_repo) 2>&1) || { uf_fail "build the lower repository" "$out"; uf_finish; }
[ -z "$out" ] || { uf_fail "build the lower repository: status not clean" "$out"; uf_finish; }
cp -a "$L" "$R" || { uf_fail "cp -a lower ref"; uf_finish; }
lower_before=$(tree_snapshot "$L")

# worktree: the index and every working tree file (mode, content).
worktree() {
	"${G[@]}" ls-files -s --debug | grep -v '^  ' | sort
	find . -path ./.git -prune -o \( -type f -o -type l \) -printf '%P %y %m\n' | sort
	find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
	find . -path ./.git -prune -o -type l -printf '%P -> %l\n' | sort
}

# The steps; each runs in the repository's top dir.
STEPS=(
	"status-clean:${G[*]} status --porcelain"
	"diff-clean:${G[*]} diff --stat HEAD"
	"edit:echo appended >>d00/f000.txt && sed -i 's/^line/LINE/' d03/f007.txt && rm d01/f001.txt && printf 'new\n' >d04/new.txt && chmod 755 d06/f006.txt && ${G[*]} mv d02/f002.txt d02/moved.txt && echo rewritten >blob.bin && ${G[*]} status --porcelain"
	"add:${G[*]} add -A && ${G[*]} status --porcelain"
	"commit:${G[*]} commit -q -m 'edit through the union' && ${G[*]} rev-parse HEAD && ${G[*]} status --porcelain"
	"checkout-feature:${G[*]} checkout -q feature && ${G[*]} rev-parse HEAD && ${G[*]} status --porcelain && ls d21 newdir 2>&1 | head -n 5"
	"worktree-feature:worktree"
	"edit-on-feature:echo on-feature >>newdir/n2.txt && ${G[*]} commit -q -a -m 'on feature' && ${G[*]} rev-parse HEAD"
	"checkout-main:${G[*]} checkout -q main && ${G[*]} rev-parse HEAD && ${G[*]} status --porcelain && ls newdir 2>&1; ls d21 | wc -l"
	"worktree-main:worktree"
	"merge:${G[*]} merge -q --no-edit feature && ${G[*]} rev-parse HEAD && ${G[*]} status --porcelain"
	"log:${G[*]} log --all --format='%H %P %s' --topo-order"
	"fsck:${G[*]} fsck --full --strict --no-progress --no-dangling"
	"gc:${G[*]} gc -q --prune=now && ${G[*]} count-objects -v | grep -E '^(count|in-pack|packs|garbage):' && find .git/objects -type f | grep -cv -e /pack/ -e /info/"
	"fsck-after-gc:${G[*]} fsck --full --strict --no-progress --no-dangling && ${G[*]} rev-parse main feature"
	"status-end:${G[*]} status --porcelain && ${G[*]} log --oneline | wc -l"
	"worktree-end:worktree"
)

# run_steps DIR PREFIX: run every step in DIR/repo; outputs in PREFIX.NAME
run_steps() {
	local s name cmd rc
	for s in "${STEPS[@]}"; do
		name=${s%%:*}
		cmd=${s#*:}
		rc=0
		(cd "$1/repo" && eval "$cmd") >"$2.$name" 2>&1 || rc=$?
		[ "$rc" -ne 0 ] && echo "[exit $rc]" >>"$2.$name"
	done
}

run_steps "$R" "$UF_TMP/out.ref"
for s in status-clean diff-clean fsck fsck-after-gc; do
	[ -z "$(grep -v '^[0-9a-f]\{40\}$' "$UF_TMP/out.ref.$s")" ] ||
		uf_fail "reference run: $s prints nothing" "$(cat "$UF_TMP/out.ref.$s")"
done

uf_mount "$BIN" "$L:$U" "$M" || uf_finish
t0=$SECONDS
run_steps "$M" "$UF_TMP/out.uf"
uf_log "git steps through the union took $((SECONDS - t0)) s"
for s in "${STEPS[@]}"; do
	name=${s%%:*}
	uf_check_eq "git step $name: same output as in a plain copy" \
		"$(cat "$UF_TMP/out.ref.$name")" "$(cat "$UF_TMP/out.uf.$name")" "cd MNT/repo && ${s#*:}"
done
head_main=$(cd "$M/repo" && "${G[@]}" rev-parse main feature 2>&1)
uf_check_eq "refs main/feature through the union equal the reference's" \
	"$(cd "$R/repo" && "${G[@]}" rev-parse main feature)" "$head_main"
uf_check_out "no temp or lock files left in .git" "" \
	find "$M/repo/.git" -maxdepth 2 \( -name '*.lock' -o -name 'tmp_*' -o -name '.wh.*' \)
uf_umount "$M"

# --- branches: lower untouched, upper has the changes
uf_check_eq "lower branch unchanged (tree_snapshot)" "$lower_before" "$(tree_snapshot "$L")"
uf_check_out "upper holds the edited file" "$(cat "$R/repo/d00/f000.txt")" cat "$U/repo/d00/f000.txt"
uf_check_out "upper holds the new file" "new" cat "$U/repo/d04/new.txt"
uf_check_out "upper holds the index" "regular file" stat -c %F "$U/repo/.git/index"
uf_check_out "upper holds the new pack (one regular .pack file)" "1" \
	bash -c 'find "$1"/repo/.git/objects/pack -type f -name "*.pack" | wc -l' _ "$U"
uf_check_out "the lower's pack is whited out in the upper" "character special file 0,0" \
	bash -c 'stat -c "%F %t,%T" "$1"/repo/.git/objects/pack/"$(basename "$2"/repo/.git/objects/pack/*.pack)"' _ "$U" "$L"
uf_check_out "the deleted d01/f001.txt is a whiteout in the upper" "character special file 0,0" \
	stat -c '%F %t,%T' "$U/repo/d01/f001.txt"
uf_check_out "d01/f001.txt is still in the lower" "file d01/f01" head -n 1 "$L/repo/d01/f001.txt"
up_other=$(find "$U" -name '.wh..wh.uf-tmp.*' -o -name '*.lock' | head)
uf_check_eq "no temp/lock names in the upper" "" "$up_other"

# --- a new mount of the same branches shows the same repository
uf_mount "$BIN" "$L:$U" "$M" || uf_finish
uf_check_out "after remount: fsck" "" bash -c 'cd "$1/repo" && shift && "$@" fsck --full --strict --no-progress --no-dangling' _ "$M" "${G[@]}"
uf_check_out "after remount: status clean" "" bash -c 'cd "$1/repo" && shift && "$@" status --porcelain' _ "$M" "${G[@]}"
uf_check_out "after remount: same log" "$(cat "$UF_TMP/out.ref.log")" \
	bash -c 'cd "$1/repo" && shift && "$@" log --all --format="%H %P %s" --topo-order' _ "$M" "${G[@]}"
uf_check_out "after remount: same worktree" "$(cat "$UF_TMP/out.ref.worktree-end")" \
	bash -c 'cd "$1/repo" && shift && G=("$@") && '"$(declare -f worktree)"' && worktree' _ "$M" "${G[@]}"
uf_umount "$M"
uf_check_eq "lower branch still unchanged" "$lower_before" "$(tree_snapshot "$L")"
uf_finish
