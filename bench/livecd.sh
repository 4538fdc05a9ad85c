#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The LiveCD session of tests/deploy/livecd.sh as a benchmark: a Debian 12
# minbase image on squashfs, each union over it with a tmpfs upper, and in a
# chroot apt-get update, apt-get install --download-only hello, apt-get
# install hello, dpkg -i of a tiny package, dpkg --verify; each phase timed.
# The kernel overlayfs and each unionfuse binary take turns, ROUNDS times
# (each with a fresh mount of the image and an empty upper); prints the
# median of every phase and its ratio to the kernel's.
#
# Needs root, network to a Debian mirror for apt-get (and for debootstrap
# unless the image tarball livecd.sh caches is there).
# Usage: bench/livecd.sh [ROUNDS] [UNIONFUSE-BINARY...]
#   default: 5 rounds; build/src/unionfuse and build-318/src/unionfuse
# Environment: UF_DEB_MIRROR (default http://deb.debian.org/debian),
#   UF_DEB_CACHE (default /var/cache/unionfuse-test), UNIONFUSE_OPTS (more
#   -o options for unionfuse, default none beyond an initramfs root's).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-5}
shift 2>/dev/null
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("$REPO/build/src/unionfuse" "$REPO/build-318/src/unionfuse")
die() { echo "livecd.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mounts, chroot)"
for b in "${BINS[@]}"; do [ -x "$b" ] || die "no binary $b (build it first)"; done
if [ -z "${UF_IN_MOUNTNS:-}" ]; then
	exec unshare -m --propagation private env UF_IN_MOUNTNS=1 "$0" "$ROUNDS" "${BINS[@]}"
fi
MIRROR=${UF_DEB_MIRROR:-http://deb.debian.org/debian}
CACHE=${UF_DEB_CACHE:-/var/cache/unionfuse-test}
TARBALL=$CACHE/debian-bookworm-minbase-$(dpkg --print-architecture).tar.gz
W=$(mktemp -d /var/tmp/uf-livecd-bench.XXXXXX)
trap 'umount -R "$W/root" 2>/dev/null; umount "$W/img" "$W/t" 2>/dev/null; rm -rf "$W"' EXIT

# --- the image (the test's cached tarball, or debootstrap once)
mkdir "$W/rootfs" "$W/img" "$W/root" "$W/t"
if [ ! -s "$TARBALL" ]; then
	mkdir -p "$CACHE"
	debootstrap --variant=minbase bookworm "$W/rootfs" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
		die "debootstrap from $MIRROR failed (see $W/debootstrap.log)"
	rm -rf "$W/rootfs/var/cache/apt/archives/"*.deb "$W/rootfs/var/lib/apt/lists/"*_*
	tar -C "$W/rootfs" --numeric-owner --xattrs -czf "$TARBALL.tmp.$$" . && mv "$TARBALL.tmp.$$" "$TARBALL"
else
	tar -C "$W/rootfs" --numeric-owner --xattrs -xpzf "$TARBALL" || die "cannot unpack $TARBALL"
fi
mksquashfs "$W/rootfs" "$W/root.squashfs" -noappend -quiet -no-progress -comp zstd >/dev/null ||
	die "mksquashfs failed"
rm -rf "$W/rootfs"
P=$W/pkg
mkdir -p "$P/DEBIAN" "$P/usr/bin"
printf 'Package: uf-tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <root@localhost>\nDescription: bench\n' \
	>"$P/DEBIAN/control"
printf '#!/bin/sh\necho hi\n' >"$P/usr/bin/uf-tiny"
chmod 755 "$P/usr/bin/uf-tiny"
dpkg-deb --root-owner-group --build "$P" "$W/uf-tiny.deb" >/dev/null || die "dpkg-deb failed"

PHASES="update download install dpkg-i verify"
declare -A CMD=(
	[update]='apt-get update -q'
	[download]='apt-get install -y -q --download-only hello'
	[install]='apt-get install -y -q hello'
	[dpkg-i]='dpkg -i /tmp/uf-tiny.deb'
	[verify]='dpkg --verify'
)

# session NAME: mount NAME's union at $W/root, run the phases, append
# "NAME PHASE SECONDS" lines to $W/times, unmount.
session() {
	local name=$1 r=$W/root ph a b pid=
	mount -t squashfs -o loop,ro "$W/root.squashfs" "$W/img" || die "cannot mount the image"
	if [ "$name" = kernel ]; then
		mount -t tmpfs tmpfs "$W/t" && mkdir "$W/t/u" "$W/t/w" &&
			mount -t overlay overlay -o "lowerdir=$W/img,upperdir=$W/t/u,workdir=$W/t/w" "$r" ||
			die "cannot mount the kernel overlayfs"
	else
		# shellcheck disable=SC2086 # UNIONFUSE_OPTS is a list of options
		"${BINS[$name]}" -o tmpupper,suid,dev,allow_other ${UNIONFUSE_OPTS:-} "$W/img" "$r" ||
			die "cannot mount ${BINS[$name]}"
	fi
	mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount --rbind /sys "$r/sys" ||
		die "cannot mount /proc, /dev, /sys in the root"
	cp /etc/resolv.conf "$r/etc/resolv.conf"
	printf 'deb %s bookworm main\n' "$MIRROR" >"$r/etc/apt/sources.list"
	cp "$W/uf-tiny.deb" "$r/tmp/"
	for ph in $PHASES; do
		a=$(date +%s.%N)
		chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			DEBIAN_FRONTEND=noninteractive LC_ALL=C /bin/sh -c "${CMD[$ph]}" >"$W/out" 2>&1 ||
			die "$(label "$name"): '${CMD[$ph]}' failed: $(tail -n 3 "$W/out")"
		b=$(date +%s.%N)
		echo "$name $ph $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')" >>"$W/times"
	done
	umount -R "$r/sys" "$r/dev" "$r/proc"
	[ "$name" = kernel ] || pid=$(pgrep -n -f -- "-o tmpupper,suid,dev,allow_other.* $W/img $r")
	umount "$r" || die "cannot unmount $r"
	[ "$name" = kernel ] && umount "$W/t"
	for _ in $(seq 100); do [ -n "$pid" ] && [ -d "/proc/$pid" ] || break; sleep 0.05; done
	umount "$W/img"
}
label() {
	if [ "$1" = kernel ]; then echo "kernel overlayfs"; else
		echo "unionfuse $("${BINS[$1]}" -V 2>/dev/null | sed -n 's/.*libfuse \([0-9.]*\).*/\1/p' | head -n 1)"
	fi
}

NAMES="kernel $(seq -s ' ' 0 $((${#BINS[@]} - 1)))"
for round in $(seq "$ROUNDS"); do
	for n in $NAMES; do session "$n"; done
	echo "round $round of $ROUNDS done" >&2
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-22s' "median of $ROUNDS (s)"
for ph in $PHASES whole; do printf '%10s' "$ph"; done
echo
for n in $NAMES; do
	printf '%-22s' "$(label "$n")"
	for ph in $PHASES; do
		m=$(awk -v n="$n" -v p="$ph" '$1 == n && $2 == p { print $3 }' "$W/times" | median)
		k=$(awk -v p="$ph" '$1 == "kernel" && $2 == p { print $3 }' "$W/times" | median)
		if [ "$n" = kernel ]; then printf '%10.2f' "$m"; else
			printf '%10s' "$(awk -v m="$m" -v k="$k" 'BEGIN { printf "%.2fx", m / k }')"
		fi
	done
	# whole: the median of each round's sum
	m=$(awk -v n="$n" '$1 == n { s[int(c[$2]++)] += $3 } END { for (i in s) print s[i] }' "$W/times" | median)
	k=$(awk '$1 == "kernel" { s[int(c[$2]++)] += $3 } END { for (i in s) print s[i] }' "$W/times" | median)
	if [ "$n" = kernel ]; then printf '%10.2f\n' "$m"; else
		awk -v m="$m" -v k="$k" 'BEGIN { printf "%10s\n", sprintf("%.2fx", m / k) }'
	fi
done
echo "(unionfuse rows: ratio of the medians to the kernel overlayfs's; -o tmpupper,suid,dev,allow_other ${UNIONFUSE_OPTS:-})"
