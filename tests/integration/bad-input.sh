#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad command lines, table-driven.  Each must: exit non-zero (not by a
# timeout or a signal), print exactly one line on stderr that starts with
# "unionfuse: ", mount nothing, create nothing, leave no process behind.
# Unreadable branches are tried as user nobody (root reads anything).  So
# that nobody gets as far as the branch check even where /dev/fuse is 0600,
# those runs happen in a private mount namespace with a 0666 /dev/fuse node
# bound over /dev/fuse; a control run first proves that nobody can mount
# readable branches that way.  Where it cannot, the error line must at
# least name the unreadable branch, or the case would pass vacuously.
# Usage: bad-input.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd setpriv
uf_tmp

B=$UF_TMP/bi                  # every input path lives below here
IO=$UF_TMP/io                 # captured output, outside $B
mkdir -p "$B/l1/sub" "$B/l1/mnt" "$B/l2" "$B/u/sub" "$B/u/mnt" "$B/mnt" "$IO"
: >"$B/file"
ln -s l1 "$B/lnk"
N=$B/nb                       # for the runs as nobody
mkdir -p "$N/ok" "$N/locked" "$N/up" "$N/mnt"
printf 'x' >"$N/ok/x"
chmod 000 "$N/locked"
chown 65534:65534 "$N/up" "$N/mnt"
# nobody may not reach the build tree: run a copy then
NBIN=$BIN
if ! setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$BIN"; then
	NBIN=$UF_TMP/bin/unionfuse
	install -D -m 0755 "$BIN" "$NBIN"
fi

listing() { (cd "$B" && find . -printf '%p %y %m %u\n' | sort); }

# leftover_pids: processes whose command line mentions our tmpdir
leftover_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		[ "${p#/proc/}" = "$BASHPID" ] && continue
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$UF_TMP/" || continue
		case $(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1) in
		*unionfuse*) echo "${p#/proc/}" ;;
		esac
	done
}

# bad LABEL root|nobody ARGS...
bad() {
	local label=$1 user=$2 rc=0 before after lines first problems=() cmd mounts p
	shift 2
	before=$(listing)
	if [ "$user" = nobody ]; then
		cmd="$(printf '%q ' "${NOBODY_RUN[@]}" "$NBIN" "$@")"
		timeout -k 2 10 "${NOBODY_RUN[@]}" "$NBIN" "$@" >"$IO/out" 2>"$IO/err" </dev/null || rc=$?
	else
		cmd=$(printf '%q ' "$BIN" "$@")
		timeout -k 2 10 "$BIN" "$@" >"$IO/out" 2>"$IO/err" </dev/null || rc=$?
	fi
	sleep 0.1
	lines=$(awk 'END { print NR }' "$IO/err")
	first=$(head -n 1 "$IO/err")
	[ "$rc" -eq 0 ] && problems+=("exit status 0")
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && problems+=("timed out (exit $rc)")
	[ "$rc" -gt 128 ] && [ "$rc" -ne 137 ] && problems+=("killed by signal $((rc - 128))")
	[ "$lines" -ne 1 ] && problems+=("$lines lines on stderr, want 1")
	case $first in
	"unionfuse: "?*) ;;
	*) problems+=("stderr does not start with 'unionfuse: '") ;;
	esac
	if [ "$user" = nobody ] && [ -n "$NOBODY_MUST_NAME" ] && [[ $first != *"$NOBODY_MUST_NAME"* ]]; then
		problems+=("nobody cannot mount here at all, and the error does not name $NOBODY_MUST_NAME")
	fi
	mounts=$(uf_mounts_under "$UF_TMP")
	if [ -n "$mounts" ]; then
		problems+=("left a mount: $mounts")
		while read -r t mp c; do uf_unmount_one "$t" "$mp" "$c"; done <<<"$mounts"
	fi
	for p in $(leftover_pids); do
		problems+=("left process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")")
		kill -KILL "$p" 2>/dev/null
	done
	after=$(listing)
	if [ "$before" != "$after" ]; then
		problems+=("changed the filesystem: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 5 | tr '\n' ';')")
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		uf_pass "$label  [$first]"
	else
		uf_fail "$label" "command: $cmd" \
			"expected: exit != 0, one stderr line 'unionfuse: ...', nothing mounted or created" \
			"actual:   exit $rc; $(printf '%s; ' "${problems[@]}")" \
			"stderr:   $(head -c 1500 "$IO/err")"
	fi
}

bad "missing lower branch" root "$B/nonexistent:$B/u" "$B/mnt"
bad "missing upper branch" root "$B/l1:$B/nonexistent" "$B/mnt"
bad "missing middle branch" root "$B/l1:$B/nonexistent:$B/u" "$B/mnt"
bad "missing branch in lowerdir=" root -o "lowerdir=$B/nonexistent:$B/l1" "$B/mnt"
bad "lower is a regular file" root "$B/file:$B/u" "$B/mnt"
bad "upper is a regular file" root "$B/l1:$B/file" "$B/mnt"
bad "same lower twice" root "$B/l1:$B/l1:$B/u" "$B/mnt"
bad "lower equals upper" root "$B/l1:$B/u:$B/u" "$B/mnt"
bad "one dir as lower and upper" root "$B/u:$B/u" "$B/mnt"
bad "same dir twice via a symlink" root "$B/l1:$B/lnk:$B/u" "$B/mnt"
bad "same dir twice, spelled l1/." root "$B/l1:$B/l1/.:$B/u" "$B/mnt"
bad "same dir twice in lowerdir=" root -o "lowerdir=$B/l1:$B/l1" "$B/mnt"
bad "upper inside a lower" root "$B/l1:$B/l1/sub" "$B/mnt"
bad "lower inside the upper" root "$B/u/sub:$B/u" "$B/mnt"
bad "lower inside a lower below it" root "$B/l1:$B/l1/sub:$B/u" "$B/mnt"
bad "lower inside a lower above it" root "$B/l1/sub:$B/l1:$B/u" "$B/mnt"
bad "upperdir= inside lowerdir=" root -o "lowerdir=$B/l1,upperdir=$B/l1/sub,workdir=$B/l2" "$B/mnt"
bad "mountpoint inside the upper" root "$B/l1:$B/u" "$B/u/mnt"
bad "mountpoint inside a lower" root "$B/l1:$B/u" "$B/l1/mnt"
bad "mountpoint inside a lowerdir= branch" root -o "lowerdir=$B/l2:$B/l1" "$B/l1/mnt"
bad "unknown long option" root --no-such-option "$B/l1:$B/u" "$B/mnt"
bad "unknown short option" root -Q "$B/l1:$B/u" "$B/mnt"
bad "unknown -o option" root -o no_such_option "$B/l1:$B/u" "$B/mnt"
bad "missing mountpoint argument" root "$B/l1:$B/u"
bad "no arguments at all" root
bad "mountpoint does not exist" root "$B/l1:$B/u" "$B/nonexistent-mnt"
bad "empty branch spec" root "" "$B/mnt"
bad "empty element in the branch list" root "$B/l1::$B/u" "$B/mnt"
bad "trailing colon in the branch list" root "$B/l1:$B/u:" "$B/mnt"
bad "empty lowerdir=" root -o lowerdir= "$B/mnt"
# Options of the kernel overlayfs and fuse-overlayfs that unionfuse does not
# implement are refused, never silently ignored (docs/usage.md).
for o in index=2 nfs_export=on xino=off uuid=on redirect_dir=nofollow fsync=2 \
	verity=on verity=require fast_ino=1 xattr_permissions=1 plugins=/x.so \
	uidmapping=0:1000:1 gidmapping=0:1000:1 metacopy=yes threaded=2 noxattrs=2 \
	squash_to_uid=-1 squash_to_uid=abc squash_to_gid=4294967295 squash_to_uid=; do
	bad "refused option -o $o" root -o "$o" "$B/l1:$B/u" "$B/mnt"
	bad "refused option -o $o in an fstab-style list" root -o "rw,lowerdir=$B/l1,upperdir=$B/u,workdir=$B/l2,$o" "$B/mnt"
done
bad "-o noallow_other with -o allow_other" root -o noallow_other,allow_other "$B/l1:$B/u" "$B/mnt"
bad "-o noallow_other with -o allow_root" root -o allow_root -o noallow_other "$B/l1:$B/u" "$B/mnt"
# --- as nobody: control first
NOBODY_RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
NOBODY_MUST_NAME=
if command -v unshare >/dev/null 2>&1 && mkdir -p "$UF_TMP/dev" &&
	mknod -m 0666 "$UF_TMP/dev/fuse" c 10 229 2>/dev/null; then
	NOBODY_RUN=(unshare -m --propagation private -- sh -c
		'mount --bind "$0" /dev/fuse && exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"'
		"$UF_TMP/dev/fuse")
fi
ctl=$(timeout -k 2 20 "${NOBODY_RUN[@]}" sh -c '"$0" "$1" "$2" && mountpoint -q "$2" && fusermount3 -u "$2" && echo MOUNTED' \
	"$NBIN" "$N/ok:$N/up" "$N/mnt" 2>&1 </dev/null)
if [ "${ctl##*$'\n'}" = MOUNTED ]; then
	uf_log "control: nobody mounts readable branches: $(printf '%q ' "${NOBODY_RUN[@]}")"
else
	NOBODY_MUST_NAME=$N/locked
	uf_log "control: nobody cannot mount even readable branches ($ctl); requiring the error to name the branch"
fi
chown 65534:65534 "$N/up" "$N/mnt"     # in case the control left anything
bad "unreadable lower (as nobody)" nobody "$N/locked:$N/up" "$N/mnt"
bad "unreadable upper (as nobody)" nobody "$N/ok:$N/locked" "$N/mnt"
bad "unreadable middle branch (as nobody)" nobody "$N/ok:$N/locked:$N/up" "$N/mnt"
bad "unreadable lowerdir= (as nobody)" nobody -o "lowerdir=$N/locked:$N/ok" "$N/mnt"

uf_finish
