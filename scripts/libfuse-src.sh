#!/bin/sh
# Put the libfuse release tarball that subprojects/libfuse.wrap names into
# subprojects/packagecache/, so that -Dlibfuse=bundled builds without
# reaching upstream. It comes from Debian's fuse3 source package: its
# .orig.tar.gz is the upstream tarball, byte for byte (meson checks the
# wrap's sha256, and so does this script).
#
# The machine's apt configuration is not changed: a private sources.list
# (the Debian mirror the machine already uses, with deb-src lines for
# unstable and testing, which carry 3.18.x) and private Dir::State and
# Dir::Cache live in a temporary directory that is removed at the end.
# Safe to run again: nothing is done when the tarball is already there.
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
wrap="$top/subprojects/libfuse.wrap"
cache="$top/subprojects/packagecache"

field() { sed -n "s/^$1 *= *//p" "$wrap"; }
file="$(field source_filename)"	# fuse-3.18.3.tar.gz
hash="$(field source_hash)"
ver="${file#fuse-}"
ver="${ver%.tar.gz}"		# 3.18.3

if [ -f "$cache/$file" ] &&
   [ "$(sha256sum "$cache/$file" | cut -d' ' -f1)" = "$hash" ]; then
	exit 0
fi

# The mirror the machine uses for its own release (deb822 .sources or
# one-line .list), and the keyring it trusts for it.
codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
mirror="" keyring=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	set -- $(awk -v c="$codename" '
		/^[ \t]*$/ { if (ok && uri) { print uri, key; exit } ok = 0; uri = ""; key = "" }
		/^URIs:/ { uri = $2 }
		/^Signed-By:/ { key = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
		END { if (ok && uri) print uri, key }' "$f")
	if [ -n "$1" ]; then
		mirror="$1" keyring="${2:-}"
		break
	fi
done
if [ -z "$mirror" ]; then
	mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed 's/\[[^]]*\]//' | awk -v c="$codename" '$1 == "deb" && $3 == c { print $2; exit }')"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
case "$keyring" in /*) ;; *) keyring=/usr/share/keyrings/debian-archive-keyring.gpg ;; esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"	# apt downloads as _apt when run as root
mkdir -p "$tmp/sources.list.d" "$tmp/lists/partial" "$tmp/archives/partial" "$tmp/src"
[ "$(id -u)" != 0 ] || ! id _apt >/dev/null 2>&1 || chown _apt "$tmp/src"
for suite in unstable testing; do
	echo "deb-src [signed-by=$keyring] $mirror $suite main"
done >"$tmp/sources.list"
: >"$tmp/status"
set -- -o Dir::Etc::sourcelist="$tmp/sources.list" \
	-o Dir::Etc::sourceparts="$tmp/sources.list.d" \
	-o Dir::State="$tmp" -o Dir::State::lists="$tmp/lists" \
	-o Dir::State::status="$tmp/status" -o Dir::Cache="$tmp" \
	-o Dir::Cache::archives="$tmp/archives" \
	-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache=""

echo "libfuse $ver: fetching Debian's fuse3 source from $mirror (private apt configuration)"
apt-get "$@" -qq update
# The Debian revision of that upstream version (3.18.3-1, ...), newest first.
dver="$(apt-cache "$@" showsrc fuse3 | sed -n 's/^Version: //p' |
	grep "^$ver-" | sort -rV | head -n1)"
if [ -z "$dver" ]; then
	echo "libfuse-src.sh: Debian's unstable/testing have no fuse3 $ver any more;" \
	     "update subprojects/libfuse.wrap (version and sha256)" >&2
	exit 1
fi
(cd "$tmp/src" && apt-get "$@" -qq source --download-only "fuse3=$dver")
orig="$tmp/src/fuse3_$ver.orig.tar.gz"
got="$(sha256sum "$orig" | cut -d' ' -f1)"
if [ "$got" != "$hash" ]; then
	echo "libfuse-src.sh: $(basename "$orig") has sha256 $got, the wrap wants $hash" >&2
	exit 1
fi
mkdir -p "$cache"
cp "$orig" "$cache/$file.part"
mv "$cache/$file.part" "$cache/$file"
echo "libfuse $ver: $cache/$file (sha256 $hash)"
