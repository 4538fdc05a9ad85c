#!/bin/sh
# Configure (once) and build unionfuse in ./build.
#   build.sh [NINJA_TARGET...]     e.g. build.sh src/unionfuse
# Meson options: set UF_MESON_ARGS, e.g. UF_MESON_ARGS=-Dsanitize=true.
set -e
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
	meson setup build $UF_MESON_ARGS
elif [ -n "$UF_MESON_ARGS" ]; then
	meson setup --reconfigure build $UF_MESON_ARGS
fi
ninja -C build "$@"
