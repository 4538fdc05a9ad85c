#!/bin/sh
# Install the Debian packages unionfuse needs to build, test and demo, when
# any is missing. Sourced by demo.sh and test.sh; safe to run again.
set -e
UF_PACKAGES="${UF_PACKAGES:-gcc meson ninja-build pkg-config libfuse3-dev libglib2.0-dev liburing-dev libnuma-dev check fuse3 attr python3 git sqlite3 rsync strace clang libclang-rt-14-dev schroot systemd-container squashfs-tools debootstrap busybox-static}"
missing=""
for p in $UF_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
