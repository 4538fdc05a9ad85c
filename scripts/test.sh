#!/bin/sh
# Quick start, part 2: install what is missing, build, and run the whole test
# suite (unit, FUSE integration, the differential tests against the kernel
# overlayfs, and the security tests, which need root). .ci/run runs exactly
# this, then again with UF_LIBFUSE=system UF_BUILD_DIR=build-asan
# UF_MESON_ARGS=-Dsanitize=true (ASan+UBSan; see the 'sanitize' test setup in
# meson.build).
#
# The suite runs twice: against the system libfuse (Debian 12: 3.14, FUSE
# protocol 7.31) in build/, and against the bundled libfuse 3.18 (7.45:
# passthrough, O_TMPFILE, ...) built static in build-318/ (-Dlibfuse=bundled;
# its tarball comes from Debian's source package, scripts/libfuse-src.sh).
# UF_LIBFUSE=system or UF_LIBFUSE=bundled runs only one of them; arguments
# go to meson test.
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
which="${UF_LIBFUSE:-system bundled}"
base="${UF_BUILD_DIR:-build}"
# The tests must be built even where the demo configured build/ first
# (without Check): -Dtests=enabled reconfigures it.
UF_MESON_ARGS="${UF_MESON_ARGS:+$UF_MESON_ARGS }-Dtests=enabled"
export UF_MESON_ARGS
"$top/scripts/deps.sh"
cd "$top"
rc=0
for lib in $which; do
	case "$lib" in
	system)
		dir=$base
		UF_BUILD_DIR=$dir "$top/scripts/build.sh"
		;;
	bundled)
		dir=$base-318
		"$top/scripts/libfuse-src.sh"
		# shellcheck disable=SC2086 # UF_MESON_ARGS is a list of options
		[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dlibfuse=bundled $UF_MESON_ARGS
		ninja -C "$dir"
		;;
	*)
		echo "UF_LIBFUSE: system or bundled, not '$lib'" >&2
		exit 2
		;;
	esac
	echo "== the suite against $("$dir/src/unionfuse" -V | head -n1)"
	meson test -C "$dir" --print-errorlogs "$@" || rc=1
done
[ "$rc" = 0 ] || exit "$rc"

# Fuzzing (scripts/fuzz.sh): each parser of untrusted input for
# UF_FUZZ_SECONDS (20) with clang+libFuzzer in build-fuzz. Only on a whole
# run of the plain builds; UF_FUZZ_SECONDS=0 skips it.
if [ $# -eq 0 ] && [ "$base" = build ] && [ "${UF_FUZZ_SECONDS:-20}" != 0 ]; then
	"$top/scripts/fuzz.sh" "${UF_FUZZ_SECONDS:-20}"
fi
