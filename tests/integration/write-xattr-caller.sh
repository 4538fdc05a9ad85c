#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xattr visibility depends on the caller, as on the kernel overlayfs:
# trusted.* names are listed only to a caller with CAP_SYS_ADMIN, and such
# a caller alone may read or write them; user.* and security.* names are
# listed to everyone.  The private overlay.* names are listed to nobody.
# Each probe runs as root and as an unprivileged user (ufsec-alice) on
# `mount -t overlay` and on unionfuse; results must match.  Root without
# CAP_SYS_ADMIN (dropped from its bounding set with setpriv) is a caller
# without the capability too.  The kernel itself refuses getxattr/setxattr
# of trusted.* to such callers before FUSE sees them; listxattr is the
# daemon's to filter (before the fix, unionfuse listed trusted.* to all).
# Usage: write-xattr-caller.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd setpriv useradd
uf_tmp

id ufsec-alice >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ufsec-alice 2>/dev/null
id ufsec-alice >/dev/null 2>&1 || uf_skip "cannot create user ufsec-alice"
AU=$(id -u ufsec-alice)
AG=$(id -g ufsec-alice)
install -m 0644 "$UF_LIB/fsutil.py" "$UF_TMP/fsutil.py"

# run_as WHO OP PATH [ARGS]: fsutil.py errno as root, alice, or root
# without CAP_SYS_ADMIN
run_as() {
	local who=$1
	shift
	case $who in
	root) "$UF_PYTHON" "$UF_TMP/fsutil.py" errno "$@" ;;
	alice) setpriv --reuid="$AU" --regid="$AG" --clear-groups -- \
		"$UF_PYTHON" "$UF_TMP/fsutil.py" errno "$@" ;;
	nocap) setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin -- \
		"$UF_PYTHON" "$UF_TMP/fsutil.py" errno "$@" ;;
	esac
}

T=$UF_TMP/t
mkdir -p "$T/l/dir" "$T/u" "$T/w" "$T/ku" "$T/kw" "$UF_TMP/k" "$UF_TMP/f"
printf 'lower' >"$T/l/file"
chmod 0666 "$T/l/file"
for o in "$T/l/file" "$T/l/dir"; do
	setfattr -n trusted.secret -v hidden "$o"
	setfattr -n user.note -v shown "$o"
	setfattr -n trusted.overlay.private -v x "$o" 2>/dev/null
done
chmod 0777 "$T/l/dir"
lower_before=$(tree_snapshot "$T/l")

if ! mount -t overlay overlay -o "lowerdir=$T/l,upperdir=$T/ku,workdir=$T/kw" "$UF_TMP/k" 2>/dev/null; then
	uf_skip "mount -t overlay failed"
fi
uf_mount "$BIN" "$T/l:$T/u" "$UF_TMP/f" -o allow_other || uf_finish

# probe DESC WHO OP REL [ARGS]: same result on both mounts; EXPECTED checked
# against the kernel's so that a test of nothing cannot pass.
probe() {
	local desc=$1 expect=$2 who=$3 op=$4 rel=$5 k f
	shift 5
	k=$(run_as "$who" "$op" "$UF_TMP/k/$rel" "$@")
	f=$(run_as "$who" "$op" "$UF_TMP/f/$rel" "$@")
	uf_check_eq "$desc: kernel overlayfs" "$expect" "$k" "as $who: fsutil.py errno $op k/$rel $*"
	uf_check_eq "$desc: unionfuse" "$expect" "$f" "as $who: fsutil.py errno $op f/$rel $*"
}

for rel in file dir; do
	probe "root lists trusted.* on a lower $rel" "OK trusted.secret,user.note" root listxattr "$rel"
	probe "alice does not list trusted.* on a lower $rel" "OK user.note" alice listxattr "$rel"
	probe "root without CAP_SYS_ADMIN does not list trusted.* ($rel)" "OK user.note" nocap listxattr "$rel"
	probe "alice cannot read trusted.secret ($rel)" ENODATA alice getxattr "$rel" trusted.secret
	probe "root reads trusted.secret ($rel)" "OK hidden" root getxattr "$rel" trusted.secret
	probe "alice reads user.note ($rel)" "OK shown" alice getxattr "$rel" user.note
	probe "alice cannot set trusted.* ($rel)" EPERM alice setxattr "$rel" trusted.mine v
	probe "alice cannot remove trusted.secret ($rel)" EPERM alice removexattr "$rel" trusted.secret
done
# After a copy-up the upper object carries the names: same rules.
probe "alice sets user.* (copy-up)" OK alice setxattr file user.more v
probe "after copy-up alice still does not list trusted.*" "OK user.more,user.note" alice listxattr file
probe "after copy-up root lists trusted.*" "OK trusted.secret,user.more,user.note" root listxattr file
uf_check_errno "the copied-up upper file keeps trusted.secret" "OK hidden" \
	getxattr "$T/u/file" trusted.secret
# A listing sized for alice's view: the size query and the list agree.
uf_check_eq "alice's listxattr size matches its list (no ERANGE)" "OK user.more,user.note" \
	"$(run_as alice listxattr "$UF_TMP/f/file")"

uf_umount "$UF_TMP/f"
umount "$UF_TMP/k"
uf_check_eq "the lower is unchanged" "$lower_before" "$(tree_snapshot "$T/l")"
uf_finish
