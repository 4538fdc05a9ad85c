#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A LiveCD-style root: a Debian bookworm minbase image (debootstrap, cached
# as a tarball under /var/cache/unionfuse-test), squashed with mksquashfs
# and loop-mounted as the only lower, a tmpfs upper (-o tmpupper), the
# options an initramfs root uses (suid,dev,allow_other). In a chroot on it:
# apt-get update and `apt-get install -y hello` from the mirror, `dpkg -i` of
# a tiny locally built .deb, `dpkg --verify` clean; the image is unchanged
# (sha256). The same steps on the kernel overlayfs (tmpfs upper) in the same
# run; both times and their ratio are printed (not asserted).
# Environment: UF_DEB_MIRROR (default: the first bookworm URI of
# /etc/apt/sources.list*), UF_DEB_CACHE (default /var/cache/unionfuse-test).
# Usage: livecd.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
BIN=$(realpath "$BIN")
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_overlay
uf_require_cmd unshare chroot debootstrap mksquashfs dpkg-deb sha256sum losetup
grep -qw squashfs /proc/filesystems || modprobe squashfs 2>/dev/null ||
	uf_skip "the kernel has no squashfs"
[ -e /dev/loop-control ] || uf_skip "no loop devices (/dev/loop-control)"
if [ -z "${UF_IN_MOUNTNS:-}" ]; then
	exec unshare -m --propagation private env UF_IN_MOUNTNS=1 "$0" "$BIN"
fi
uf_tmp

# debian_mirror: UF_DEB_MIRROR, else the first URI the host's apt uses for
# bookworm (one-line .list or deb822 .sources form).
debian_mirror() {
	[ -n "${UF_DEB_MIRROR:-}" ] && { echo "$UF_DEB_MIRROR"; return; }
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" && / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN { RS = "" } /Suites:[^\n]*bookworm( |\n|$)/ && /Types:[^\n]*deb( |\n|$)/ {
			if (match($0, /URIs: *[^ \n]+/)) { split(substr($0, RSTART, RLENGTH), a, / +/); print a[2]; exit } }' "$f"
	done
}
MIRROR=$(debian_mirror | head -n 1)
[ -n "$MIRROR" ] || uf_skip "no bookworm mirror in /etc/apt/sources.list* (set UF_DEB_MIRROR)"
uf_log "mirror: $MIRROR"
ARCH=$(dpkg --print-architecture)
CACHE=${UF_DEB_CACHE:-/var/cache/unionfuse-test}
TARBALL=$CACHE/debian-bookworm-minbase-$ARCH.tar.gz

# --- the image: debootstrap once per machine, then the cached tarball
ROOTFS=$UF_TMP/rootfs
if [ ! -s "$TARBALL" ]; then
	uf_log "building $TARBALL with debootstrap (once per machine)"
	mkdir -p "$CACHE"
	if ! debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$UF_TMP/debootstrap.log" 2>&1; then
		tail -n 20 "$UF_TMP/debootstrap.log"
		uf_skip "debootstrap from $MIRROR failed (no network?)"
	fi
	rm -rf "$ROOTFS/var/cache/apt/archives/"*.deb "$ROOTFS/var/lib/apt/lists/"*_*
	tar -C "$ROOTFS" --numeric-owner --xattrs -czf "$TARBALL.tmp.$$" . && mv "$TARBALL.tmp.$$" "$TARBALL"
	rm -rf "$ROOTFS"
fi
mkdir "$ROOTFS"
uf_check "unpack the cached image" tar -C "$ROOTFS" --numeric-owner --xattrs -xpzf "$TARBALL"
IMG=$UF_TMP/root.squashfs
t0=$(date +%s)
uf_check "mksquashfs" mksquashfs "$ROOTFS" "$IMG" -noappend -quiet -no-progress -comp zstd
uf_log "mksquashfs: $(($(date +%s) - t0)) s, $(du -m "$IMG" | cut -f1) MiB"
rm -rf "$ROOTFS"
img_sum=$(sha256sum <"$IMG")
L=$UF_TMP/squash
mkdir "$L"
# Each root gets a fresh mount of the image: a squashfs keeps what it
# decompressed in its own page cache, which would favour the second run.
mount_image() { mount -t squashfs -o loop,ro "$IMG" "$L" || uf_fail "mount the squashfs image"; }

# --- a tiny local package
P=$UF_TMP/pkg
mkdir -p "$P/DEBIAN" "$P/usr/bin" "$P/usr/share/uf-tiny"
cat >"$P/DEBIAN/control" <<EOC
Package: uf-tiny
Version: 1.0
Architecture: all
Maintainer: unionfuse tests <root@localhost>
Description: unionfuse LiveCD test package
EOC
printf '#!/bin/sh\nmkdir -p /var/lib/uf-tiny && echo configured >/var/lib/uf-tiny/state\n' >"$P/DEBIAN/postinst"
printf '#!/bin/sh\ncat /usr/share/uf-tiny/msg\n' >"$P/usr/bin/uf-tiny"
printf 'tiny says hi\n' >"$P/usr/share/uf-tiny/msg"
chmod 755 "$P/DEBIAN/postinst" "$P/usr/bin/uf-tiny"
uf_check "dpkg-deb --build" dpkg-deb --root-owner-group --build "$P" "$UF_TMP/uf-tiny.deb"

# in_root ROOT CMD: CMD with sh in a chroot on ROOT, as a live system's root
# would run it.
in_root() {
	local r=$1
	shift
	chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C /bin/sh -c "$*"
}

# live_session NAME ROOT: the package steps on the root mounted at ROOT; sets
# T_NET (apt-get update + download) and T_LOCAL (install, dpkg -i, verify).
live_session() {
	local name=$1 r=$2 a b c out
	mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount --rbind /sys "$r/sys" ||
		uf_fail "$name: /proc, /dev, /sys in the root"
	cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null
	printf 'deb %s bookworm main\n' "$MIRROR" >"$r/etc/apt/sources.list"
	cp "$UF_TMP/uf-tiny.deb" "$r/tmp/"
	# apt's _apt and any user: not the owner of /tmp nor of the programs
	uf_check "$name: a non-owner runs a program and writes in /tmp" \
		chroot --userspec=65534:65534 "$r" /bin/sh -c 'f=$(mktemp) && rm "$f"'
	a=$(date +%s.%N)
	uf_check "$name: apt-get update" in_root "$r" 'apt-get update -q'
	uf_check "$name: apt-get install --download-only hello" in_root "$r" 'apt-get install -y -q --download-only hello'
	b=$(date +%s.%N)
	uf_check "$name: apt-get install -y hello" in_root "$r" 'apt-get install -y -q hello'
	uf_check "$name: dpkg -i uf-tiny.deb" in_root "$r" 'dpkg -i /tmp/uf-tiny.deb'
	out=$(in_root "$r" 'dpkg --verify' 2>&1)
	uf_check_eq "$name: dpkg --verify passes" "" "$out" "dpkg --verify"
	c=$(date +%s.%N)
	uf_check_eq "$name: the programs run" "Hello, world!|tiny says hi|configured" \
		"$(in_root "$r" 'hello; uf-tiny; cat /var/lib/uf-tiny/state' 2>&1 | paste -sd'|')"
	uf_check_eq "$name: dpkg knows both" "installed hello|installed uf-tiny" \
		"$(in_root "$r" "dpkg-query -W -f '\${db:Status-Status} \${Package}\n' hello uf-tiny" | paste -sd'|')"
	in_root "$r" 'dpkg-query -W' >"$UF_TMP/$name.packages"
	T_NET=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }')
	T_LOCAL=$(awk -v b="$b" -v c="$c" 'BEGIN { printf "%.2f", c - b }')
	umount -R "$r/sys" "$r/dev" "$r/proc" || uf_fail "$name: unmount /proc, /dev, /sys"
}

# --- unionfuse, as an initramfs would mount the root
R=$UF_TMP/root-uf
mkdir "$R"
mount_image
if uf_mount "$BIN" "$L" "$R" -o tmpupper,suid,dev,allow_other; then
	opts=$(findmnt -n -o OPTIONS "$R")
	uf_check_eq "suid and dev are on (an initramfs root)" "" "$(printf '%s\n' "$opts" | tr , '\n' | grep -x -e nosuid -e nodev)"
	uf_check_out "a set-uid program keeps its mode" "4755" stat -c %a "$R/usr/bin/su"
	live_session unionfuse "$R"
	uf_t_net=$T_NET uf_t_local=$T_LOCAL
	pid=$(uf_daemon_pid "$R")
	uf_umount "$R"
	for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
	uf_check_eq "the daemon is gone, and with it the upper" "gone" "$([ -d "/proc/$pid" ] || echo gone)"
fi
umount "$L"

# --- the same on the kernel overlayfs
K=$UF_TMP/root-ovl
T=$UF_TMP/ovl-tmpfs
mkdir "$K" "$T"
mount_image
mount -t tmpfs -o mode=0755 tmpfs "$T" && mkdir "$T/u" "$T/w" &&
	mount -t overlay overlay -o "lowerdir=$L,upperdir=$T/u,workdir=$T/w" "$K" ||
	uf_fail "mount the kernel overlay"
live_session overlay "$K"
ovl_t_net=$T_NET ovl_t_local=$T_LOCAL
umount "$K" && umount "$T"

uf_check_eq "the same packages on both" "$(cat "$UF_TMP/overlay.packages")" "$(cat "$UF_TMP/unionfuse.packages")"
umount "$L"
uf_check_eq "the squashfs image is unchanged" "$img_sum" "$(sha256sum <"$IMG")"
ratio() { awk -v u="$1" -v o="$2" 'BEGIN { if (o > 0) printf "%.2f", u / o; else print "?" }'; }
uf_log "apt-get update + download: unionfuse ${uf_t_net:-?} s, overlay $ovl_t_net s, ratio $(ratio "${uf_t_net:-0}" "$ovl_t_net")"
uf_log "install + dpkg -i + dpkg --verify: unionfuse ${uf_t_local:-?} s, overlay $ovl_t_local s, ratio $(ratio "${uf_t_local:-0}" "$ovl_t_local") (target <= 1.3)"
uf_finish
