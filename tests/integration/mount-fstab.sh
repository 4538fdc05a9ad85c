#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unionfuse under mount(8), mount.fuse3 and fstab, in a private mount
# namespace (unshare -m) with a temporary fstab (mount -a -T FILE):
# `mount -t fuse.unionfuse` in both forms; fstab lines in both forms and
# with tmpupper, each mounted once by two `mount -a` runs (the source is the
# branch list as given, so util-linux sees it mounted); mount(8)'s own
# options (nofail, _netdev, x-*, noauto, user) accepted; mount.fuse3's
# drop_privileges with its /dev/fd/N mount point; the example systemd unit
# mounted the way systemd would (PID 1 here need not be systemd).
# Usage: mount-fstab.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
BIN=$(realpath "$BIN")
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_require_cmd unshare mount umount findmnt
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] || uf_skip "mount.fuse3 is not installed"
# Everything below runs in a mount namespace of its own: the trap of
# uf_tmp cleans up in there, and nothing is seen outside.
if [ -z "${UF_IN_MOUNTNS:-}" ]; then
	exec unshare -m --propagation private env UF_IN_MOUNTNS=1 "$0" "$BIN"
fi
uf_tmp

# mount.fuse3 runs "unionfuse" through /bin/sh, and mount(8) clears PATH:
# put ours first in sh's default PATH, in this namespace only.
mkdir -p "$UF_TMP/bin"
ln -s "$BIN" "$UF_TMP/bin/unionfuse"
mount --bind "$UF_TMP/bin" /usr/local/sbin || uf_skip "cannot bind-mount over /usr/local/sbin"

B=$UF_TMP/base
U=$UF_TMP/upper
W=$UF_TMP/work
M=$UF_TMP/mnt
M2=$UF_TMP/mnt2
FSTAB=$UF_TMP/fstab
mkdir -p "$B/d" "$U" "$W" "$M" "$M2"
printf 'base\n' >"$B/d/f"
printf 'gone\n' >"$B/g"

# n_mounts DIR: how many mounts sit on DIR.
n_mounts() { uf_mounts_under "$1" | awk -v m="$1" '$2 == m' | wc -l; }
# n_daemons DIR: unionfuse daemons with DIR as an argument (mount.fuse3
# puts the options last).
n_daemons() {
	local p n=0
	for p in /proc/[0-9]*; do
		tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1 | grep -q 'unionfuse$' || continue
		tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF "$1" && n=$((n + 1))
	done
	echo "$n"
}
umount_wait() {
	umount "$1" && uf_wait_unmounted "$1" 10
	for _ in $(seq 100); do [ "$(n_daemons "$1")" = 0 ] && break; sleep 0.05; done
}

# --- mount -t fuse.unionfuse, both forms
uf_check "mount -t fuse.unionfuse BRANCHES MNT" mount -t fuse.unionfuse "$B:$U" "$M"
uf_check_out "the view" "base" cat "$M/d/f"
uf_check_out "source and type" "$B:$U fuse.unionfuse" findmnt -n -o SOURCE,FSTYPE "$M"
printf 'new\n' >"$M/n"
uf_check_out "a write lands in the upper" "new" cat "$U/n"
umount_wait "$M"
uf_check "mount -t fuse.unionfuse -o lowerdir=,upperdir=,workdir= none MNT" \
	mount -t fuse.unionfuse -o "lowerdir=$B,upperdir=$U,workdir=$W" none "$M"
uf_check_out "lowerdir form: the view" "base new" sh -c "echo \$(cat '$M/d/f' '$M/n')"
uf_check_out "lowerdir form: source 'none'" "none" findmnt -n -o SOURCE "$M"
umount_wait "$M"
uf_check "mount(8)'s own options are accepted: user,noauto,nofail,_netdev,x-a=b,comment=c" \
	mount -t fuse.unionfuse -o "user,noauto,nofail,_netdev,x-a=b,comment=c" "$B:$U" "$M"
uf_check_out "... and mounted" "base" cat "$M/d/f"
umount_wait "$M"

# --- fstab: each line mounted once, however often mount -a runs
cat >"$FSTAB" <<EOT
# a comment
$B:$U $M fuse.unionfuse defaults,nofail,_netdev,x-systemd.requires=local-fs.target 0 0
$B:$U $M2 fuse.unionfuse noauto 0 0
EOT
uf_check "mount -a (positional form)" mount -a -T "$FSTAB"
uf_check "mount -a again" mount -a -T "$FSTAB"
uf_check_eq "positional form: mounted once" "1 1" "$(n_mounts "$M") $(n_daemons "$M")"
uf_check_eq "noauto: not mounted by mount -a" "0" "$(n_mounts "$M2")"
uf_check_out "the fstab view" "base" cat "$M/d/f"
uf_check_out "findmnt matches the fstab line" "$M" findmnt -n -o TARGET --tab-file "$FSTAB" "$M"
umount_wait "$M"

cat >"$FSTAB" <<EOT
none $M fuse.unionfuse lowerdir=$B,upperdir=$U,workdir=$W,nofail 0 0
unionfuse $M2 fuse.unionfuse lowerdir=$B,tmpupper 0 0
EOT
uf_check "mount -a (lowerdir form, tmpupper)" mount -a -T "$FSTAB"
uf_check "mount -a again" mount -a -T "$FSTAB"
uf_check_eq "lowerdir form and tmpupper: each mounted once" "1 1 1 1" \
	"$(n_mounts "$M") $(n_daemons "$M") $(n_mounts "$M2") $(n_daemons "$M2")"
printf 'tmp\n' >"$M2/t"
uf_check_eq "tmpupper from fstab: the write is not in the real upper" "" "$(ls "$U" | grep -x t)"
umount_wait "$M"
umount_wait "$M2"

# --- mount.fuse3 -o drop_privileges: mounted by mount.fuse3, served from /dev/fd/N
rm -rf "${U:?}"/* && mkdir -p "$U"
uf_check "drop_privileges,default_permissions" \
	mount -t fuse.unionfuse -o drop_privileges,default_permissions "$B:$U" "$M"
pid=$(pgrep -f "unionfuse $B:$U /dev/fd/" | head -n 1)
uf_check_eq "the daemon got a /dev/fd/N mount point" "1" \
	"$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -c '^/dev/fd/[0-9]*$')"
uf_check_eq "and runs without capabilities" "0000000000000000" "$(awk '/^CapEff/ {print $2}' "/proc/$pid/status")"
uf_check_out "drop_privileges: the view" "base" cat "$M/d/f"
printf 'w\n' >"$M/w" && rm "$M/g" && rm -r "$M/d" && mkdir "$M/d"
uf_check_out "drop_privileges: writes reach the upper" "w" cat "$U/w"
uf_check_out "drop_privileges: a whiteout" "character special file 0,0" stat -c '%F %t,%T' "$U/g"
uf_check_out "drop_privileges: opaque dir in user.overlay.* (no CAP_SYS_ADMIN for trusted.*)" "y" \
	getfattr --absolute-names --only-values -n user.overlay.opaque "$U/d"
uf_check_out "drop_privileges: the dir is empty in the union" "" ls -A "$M/d"
umount "$M"
for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
uf_check "drop_privileges: the daemon exits at umount" test ! -d "/proc/$pid"
out=$(mount -t fuse.unionfuse -o drop_privileges,allow_other "$B:$U" "$M" 2>&1)
uf_check_eq "drop_privileges,allow_other without default_permissions: refused in one line" \
	"unionfuse: with a /dev/fd/N mount point (mount.fuse3 -o drop_privileges) -o allow_other needs -o default_permissions too: the kernel mount is made with the options as given" \
	"$out"
umount "$M" 2>/dev/null # mount.fuse3 mounted before we could refuse

# --- the example systemd unit, run as systemd runs it: mount What Where -t Type -o Options
UNIT=$(dirname "$0")/../../contrib/systemd/srv-union.mount
if [ -r "$UNIT" ]; then
	what=$(sed -n 's/^What=//p' "$UNIT")
	where=$(sed -n 's/^Where=//p' "$UNIT")
	type=$(sed -n 's/^Type=//p' "$UNIT")
	opts=$(sed -n 's/^Options=//p' "$UNIT")
	uf_check_eq "the unit's name matches Where= (systemd requires it)" "srv-union.mount" \
		"$(systemd-escape -p --suffix=mount "$where" 2>/dev/null || echo srv-union.mount)"
	if command -v systemd-analyze >/dev/null; then
		uf_check "systemd-analyze verify accepts the unit" \
			systemd-analyze verify --man=no "$UNIT"
	fi
	# Its paths under /srv, moved into our tmpdir.
	mkdir -p "$UF_TMP/srv/base" "$UF_TMP/srv/union"
	cp -a "$B/." "$UF_TMP/srv/base/"
	what=${what//\/srv/$UF_TMP/srv}
	where=${where//\/srv/$UF_TMP/srv}
	uf_check "unit: mount '$what' '$where' -t $type -o $opts" mount "$what" "$where" -t "$type" -o "$opts"
	uf_check_out "unit: the view" "base" cat "$where/d/f"
	uf_check_out "unit: findmnt sees the unit's What= as the source" "$what" findmnt -n -o SOURCE "$where"
	umount_wait "$where"
else
	uf_fail "contrib/systemd/srv-union.mount is missing"
fi
uf_check_eq "nothing mounted at the end" "" "$(uf_mounts_under "$UF_TMP")"
uf_finish
