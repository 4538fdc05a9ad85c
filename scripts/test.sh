#!/bin/sh
# Quick start, part 2: install what is missing, build, and run the whole test
# suite (unit, FUSE integration, and the differential tests against the
# kernel overlayfs, which need root). .ci/run runs exactly this.
set -e
top="$(cd "$(dirname "$0")/.." && pwd)"
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
cd "$top"
meson test -C build --print-errorlogs "$@"
