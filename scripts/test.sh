#!/bin/sh
# Quick start, part 2: install what is missing, build, and run the whole test
# suite (unit, FUSE integration, the differential tests against the kernel
# overlayfs, and the security tests, which need root). .ci/run runs exactly
# this, then again with UF_BUILD_DIR=build-asan UF_MESON_ARGS=-Dsanitize=true
# (ASan+UBSan; see the 'sanitize' test setup in meson.build).
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
cd "$top"
meson test -C "${UF_BUILD_DIR:-build}" --print-errorlogs "$@"

# Fuzzing (scripts/fuzz.sh): each parser of untrusted input for
# UF_FUZZ_SECONDS (20) with clang+libFuzzer in build-fuzz. Only on a whole
# run of the plain build; UF_FUZZ_SECONDS=0 skips it.
if [ $# -eq 0 ] && [ "${UF_BUILD_DIR:-build}" = build ] && [ "${UF_FUZZ_SECONDS:-20}" != 0 ]; then
	"$top/scripts/fuzz.sh" "${UF_FUZZ_SECONDS:-20}"
fi
