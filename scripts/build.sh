#!/bin/sh
# Configure (once) and build unionfuse in ./build.
#   build.sh [NINJA_TARGET...]     e.g. build.sh src/unionfuse
# Meson options: set UF_MESON_ARGS, e.g. UF_MESON_ARGS=-Dsanitize=true.
# Another build dir: UF_BUILD_DIR, e.g. UF_BUILD_DIR=build-asan.
set -e
cd "$(dirname "$0")/.."
dir=${UF_BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" $UF_MESON_ARGS
elif [ -n "$UF_MESON_ARGS" ]; then
	meson setup --reconfigure "$dir" $UF_MESON_ARGS
fi
ninja -C "$dir" "$@"
