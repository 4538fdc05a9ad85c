#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hostile overlay.redirect xattrs. A lower branch may come from an attacker
# (an image layer); with -o userxattr alice writes user.overlay.redirect on
# dirs of her own upper herself. Each dir r<N> of that branch carries one
# redirect: "../../../etc", "/../../etc", "a/../../..", "//etc", "/", ".",
# "..", a relative one with '/' (into the bottom branch), relative and
# absolute ones reaching the union's own mount point, a relative one to a
# dir beside the branches, one to the 0700 root dir of secrets (beside the
# branches) and one to a 0700 root dir inside the bottom branch, 30 "../"
# and etc, 5000 bytes, and binary garbage.
#
# Must hold: the union never lists a name that exists in no branch (/etc's
# files, the dir beside the branches, the secrets), alice reads no secret
# marker, nothing hangs (the redirects to the mount point make the daemon
# look into itself), the daemon lives, the branches stay unchanged, and for
# each r<N> alice sees no name that the kernel overlayfs (redirect_dir=on,
# same branches) does not show her, beyond r<N>'s own entries (ignoring a
# bad redirect is fine).
# The branches are on a tmpfs: ext4 cannot hold a 5000-byte xattr.
# Usage: sec-redirect.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/write.sh"
. "$(dirname "$0")/../lib/security.sh"

sec_init "$BIN"
uf_require_overlay
T=$UF_TMP/t
mkdir -p "$T"
mount -t tmpfs -o size=64m,mode=0755 uf-sec-redirect "$T" || uf_skip "cannot mount a tmpfs"
M=$SEC_MNT
OUT_MARK="SECRET-OUTSIDE-$RANDOM$RANDOM$RANDOM"
PRIV_MARK="SECRET-PRIVATE-$RANDOM$RANDOM$RANDOM"
# shellcheck disable=SC2034 # read by sec_marks
SEC_EXTRA_MARKS="$OUT_MARK"
mkdir -p "$T/outside" "$T/k"
printf '%s\n' "$OUT_MARK" >"$T/outside/OUTSIDE-CANARY"

# REDIRECTS: "NAME VALUE" (VALUE is python bytes syntax); ../ counts are for
# branches at UF_TMP/t/NAME and the mount point at UF_TMP/mnt.
REDIRECTS=(
	"r01 b'../../../etc'"
	"r02 b'/../../etc'"
	"r03 b'a/../../..'"
	"r04 b'//etc'"
	"r05 b'/'"
	"r06 b'.'"
	"r07 b'..'"
	"r08 b'sub/dir'"
	"r09 b'../../mnt'"
	"r10 b'/../../mnt'"
	"r11 b'../outside'"
	"r12 b'../../secret/rootdir'"
	"r13 b'/private'"
	"r14 b'private'"
	"r15 b'../' * 30 + b'etc'"
	"r16 b'a' * 5000"
	"r17 b'\\xff\\xfe/../\\n\\x01etc\\x00../../..'"
	"r18 b'/../../../../../../../../etc'"
	"r19 b'../k'"
)

# build PREFIX: fresh branches base (bottom), evil (the redirects), upper.
# With PREFIX user.overlay. the redirects are alice's, in her upper.
build() {
	local prefix=$1 evil r
	rm -rf "${T:?}/base" "$T/evil" "$T/upper" "$T/work"
	mkdir -p "$T/base/sub/dir" "$T/base/private" "$T/evil" "$T/upper" "$T/work"
	printf 'canary' >"$T/base/canary"
	printf 'base-sub-dir\n' >"$T/base/sub/dir/base-sub-dir-file"
	printf '%s\n' "$PRIV_MARK" >"$T/base/private/private-file"
	chmod 0700 "$T/base/private"
	evil=$T/evil
	if [ "$prefix" = user.overlay. ]; then
		evil=$T/upper
		chown "$SEC_ALICE" "$T/upper"
	fi
	for r in "${REDIRECTS[@]}"; do
		mkdir "$evil/${r%% *}"
		printf 'own\n' >"$evil/${r%% *}/own-${r%% *}"
	done
	[ "$prefix" = user.overlay. ] && chown -R "$SEC_ALICE" "$T/upper"
	# as alice for her upper: only she could have written user.* there
	sec_run "set the redirects" "$([ "$prefix" = user.overlay. ] && echo alice || echo root)" 30 \
		"$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
for spec in A[2:]:
    name, val = spec.split(" ", 1)
    os.setxattr(A[0] + "/" + name, A[1] + "redirect", eval(val))' "$evil" "$prefix" "${REDIRECTS[@]}"
	[ "$SEC_RC" -eq 0 ] && [ -z "$SEC_OUT" ] || uf_fail "set the hostile redirects ($prefix)" "$SEC_OUT"
}

# names_in_branches: every name in every branch (and the mount point's).
names_in_branches() {
	find "$T/base" "$T/evil" "$T/upper" -mindepth 1 -printf '%f\n' | sort -u
}

# view MNT all|self|others: as alice, "rNN: names..." (or an errno name)
# per redirect dir (those of the group), and the first bytes of every file
# she can read in it; one timeout each.
view() {
	local r
	VIEW=
	for r in "${REDIRECTS[@]%% *}"; do
		case $2:$SELF in
		self:*" $r "*) ;; self:*) continue ;;
		others:*" $r "*) continue ;;
		esac
		sec_run "alice lists $1/$r" alice "$SEC_TMO" "$UF_PYTHON" "$UF_TMP/secprobe.py" exec '
d, name = A[0] + "/" + A[1], A[1]
try:
    names = sorted(os.listdir(d))
except OSError as e:
    print(name + ":", ename(e))
    raise SystemExit(0)
print(name + ":", " ".join(names))
for n in names:
    try:
        with open(d + "/" + n, "rb") as f:
            print("  read", n, show(f.read(100)))
    except OSError as e:
        pass' "$1" "$r"
		[ "$SEC_RC" -eq 0 ] || SEC_OUT="$r: TIMEOUT"
		VIEW="$VIEW${VIEW:+$'\n'}$(printf '%s\n' "$SEC_OUT" | grep -v '^  read')"
	done
}

# summary: "rNN/name ..." lines on stdin -> "rNN: COUNT (NAME NAME ...)" per dir.
summary() {
	awk -F/ '{ n[$1]++; if (n[$1] <= 6) s[$1] = s[$1] " " $2 }
		END { for (d in n) printf "%s: %d%s%s\n", d, n[d], s[d], (n[d] > 6 ? " ..." : "") }' | sort
}

# check_view DESC KERNEL-VIEW: names outside the branches, and names the
# kernel does not show (beyond the dir's own entries).
check_view() {
	local desc=$1 kview=$2 known extra name names k n
	known=$(names_in_branches)
	extra=$(while read -r name names; do
		for n in $names; do
			case $n in E[A-Z]* | TIMEOUT) continue ;; esac
			printf '%s/%s\n' "${name%:}" "$n"
		done
	done <<<"$VIEW" | sort -u | while IFS=/ read -r name n; do
		grep -qxF -- "$n" <<<"$known" || printf '%s/%s\n' "$name" "$n"
	done | summary)
	uf_check_eq "$desc: every name shown exists in a branch (no host dir leaks in)" "" "$extra"
	[ -n "$kview" ] || return 0
	extra=$(while read -r name names; do
		name=${name%:}
		k=$(printf '%s\n' "$kview" | awk -v n="$name:" '$1 == n { $1 = ""; print }')
		for n in $names; do
			case $n in E[A-Z]* | TIMEOUT | own-*) continue ;; esac
			case " $k " in *" $n "*) ;; *) printf '%s/%s\n' "$name" "$n" ;; esac
		done
	done <<<"$VIEW" | summary)
	uf_check_eq "$desc: alice sees nothing the kernel overlayfs does not show her" "" "$extra"
}

# The redirects that reach the mount point may hang the daemon: they get a
# mount of their own, after the others were checked.
SELF=" r09 r10 "
for prefix in trusted.overlay. user.overlay.; do
	uf_log "redirects in ${prefix}redirect"
	opts=()
	kopts=redirect_dir=on
	# with userxattr the kernel follows no redirect (nofollow is its only mode)
	[ "$prefix" = user.overlay. ] && opts=(-o userxattr) && kopts=userxattr
	build "$prefix"
	wr_save_lowers "$T/base" "$T/evil"
	# the kernel overlayfs first (on a copy: it may write its own xattrs)
	rm -rf "$T/kc" && mkdir -p "$T/kc" && cp -a "$T/base" "$T/evil" "$T/upper" "$T/work" "$T/kc/"
	KVIEW=
	if mount -t overlay overlay -o "lowerdir=$T/kc/evil:$T/kc/base,upperdir=$T/kc/upper,workdir=$T/kc/work,$kopts" "$T/k" 2>"$UF_TMP/kmount.err"; then
		view "$T/k" all
		KVIEW=$VIEW
		uf_log "kernel overlayfs ($kopts), as alice: $(printf '%s\n' "$KVIEW" | tr '\n' '|')"
		umount "$T/k"
	else
		uf_fail "the kernel overlayfs mounts ($kopts) as the oracle" "$(cat "$UF_TMP/kmount.err")"
	fi
	for group in others self; do
		sec_mount "$T/base:$T/evil:$T/upper" "${opts[@]}" || break
		view "$M" "$group"
		uf_log "unionfuse, as alice: $(printf '%s\n' "$VIEW" | tr '\n' '|')"
		check_view "${prefix}redirect, $group" "$KVIEW"
		if [ "$group" = others ]; then
			sec_hung || sec_run "find through the union" alice 15 find "$M" -maxdepth 3 -not -path "*/r09*" -not -path "*/r10*"
			sec_hung || sec_run "ls -R through the union" root 20 sh -c 'ls -R "$1" | head -n 2000' _ "$M"
		fi
		sec_after "${prefix}redirect, $group"
		sec_umount
	done
	wr_check_lowers "${prefix}redirect: branches unchanged after the unmounts"
done
uf_finish
