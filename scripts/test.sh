#!/bin/sh
# Quick start, part 2: install what is missing, build, and run the whole test
# suite (unit, FUSE integration, the differential tests against the kernel
# overlayfs, the security tests, which need root, and the deployment tests),
# then fuzz the parsers. .ci/run runs exactly this.
#
# The suite runs against both libfuses, each build once:
#   asan     the system libfuse (Debian 12: 3.14, FUSE protocol 7.31), built
#            with ASan+UBSan in build-asan (-Dsanitize=true: any sanitizer
#            report fails its test): every suite but 'deploy';
#   plain    the system libfuse in build/: the unit tests and 'deploy'
#            (schroot, a LiveCD root running package managers: minutes
#            under ASan, and what a user of the plain build runs);
#   bundled  libfuse 3.18 (7.45: passthrough, O_TMPFILE, ...) built static
#            in build-318/ (-Dlibfuse=bundled; its tarball comes from
#            Debian's source package, scripts/libfuse-src.sh): everything.
# So every test runs against 3.14 once and against 3.18 once.
# UF_LIBFUSE=system (asan + plain) or bundled chooses; UF_RUNS="plain ..."
# names runs. Arguments go to meson test and replace the suite choice.
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
case "${UF_LIBFUSE:-}" in
'') runs=${UF_RUNS:-asan plain bundled} ;;
system) runs="asan plain" ;;
bundled) runs=bundled ;;
*)
	echo "UF_LIBFUSE: system or bundled, not '$UF_LIBFUSE'" >&2
	exit 2
	;;
esac
"$top/scripts/deps.sh"
cd "$top"
rc=0
for run in $runs; do
	# The tests must be built even where the demo configured build/ first
	# (without Check): -Dtests=enabled reconfigures it.
	case "$run" in
	asan)
		dir=build-asan suites="--no-suite deploy"
		UF_BUILD_DIR=$dir UF_MESON_ARGS="-Dtests=enabled -Dsanitize=true" "$top/scripts/build.sh"
		;;
	plain)
		dir=build suites="--suite unit --suite deploy"
		UF_BUILD_DIR=$dir UF_MESON_ARGS=-Dtests=enabled "$top/scripts/build.sh"
		;;
	bundled)
		dir=build-318 suites=
		"$top/scripts/libfuse-src.sh"
		[ -f "$dir/build.ninja" ] || meson setup "$dir" -Dlibfuse=bundled -Dtests=enabled
		ninja -C "$dir"
		;;
	*)
		echo "UF_RUNS: asan, plain or bundled, not '$run'" >&2
		exit 2
		;;
	esac
	[ $# -eq 0 ] || suites=
	echo "== $run: the suite against $("$dir/src/unionfuse" -V | head -n1)${suites:+ ($suites)}"
	# shellcheck disable=SC2086 # $suites is a list of options
	meson test -C "$dir" --print-errorlogs $suites "$@" || rc=1
done
[ "$rc" = 0 ] || exit "$rc"

# Fuzzing (scripts/fuzz.sh): each parser of untrusted input for
# UF_FUZZ_SECONDS (10) with clang+libFuzzer in build-fuzz. Only on a whole
# run; UF_FUZZ_SECONDS=0 skips it.
if [ $# -eq 0 ] && [ -z "${UF_LIBFUSE:-}${UF_RUNS:-}" ] && [ "${UF_FUZZ_SECONDS:-10}" != 0 ]; then
	"$top/scripts/fuzz.sh" "${UF_FUZZ_SECONDS:-10}"
fi
