#!/bin/sh
# Build the libFuzzer targets with clang in ./build-fuzz (-Dfuzz=true) and
# run each for a bounded time from its seed corpus (fuzz/corpus/NAME).
#   fuzz.sh [SECONDS-PER-TARGET] [TARGET...]    default: 20 s, all targets
# New inputs go to build-fuzz/corpus/NAME (not committed); a crash leaves
# build-fuzz/crash-* and fails the run. Exit status: 0 when nothing failed.
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-20}"
[ $# -gt 0 ] && shift
targets="${*:-redirect metacopy origin whiteout params}"
UF_PACKAGES="clang libclang-rt-14-dev meson ninja-build pkg-config libfuse3-dev libglib2.0-dev" \
	"$top/scripts/deps.sh"
cd "$top"
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=disabled
fi
ninja -C build-fuzz
rc=0
for t in $targets; do
	mkdir -p "build-fuzz/corpus/$t"
	echo "fuzz-$t: $secs s"
	# close_fd_mask=1: the params target's libfuse prints usage on stdout.
	if ! (cd build-fuzz && "./fuzz/fuzz-$t" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=1024 -close_fd_mask=1 -print_final_stats=1 \
		"corpus/$t" "$top/fuzz/corpus/$t" 2>"fuzz-$t.log"); then
		echo "fuzz-$t FAILED: see build-fuzz/fuzz-$t.log"
		tail -n 30 "build-fuzz/fuzz-$t.log"
		rc=1
	else
		grep -E '^(Done|stat::number_of_executed_units)' "build-fuzz/fuzz-$t.log" || true
	fi
done
exit $rc
