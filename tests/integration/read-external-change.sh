#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Files added to or removed from a lower branch behind the daemon's back
# show up in lookup and readdir once the entry/attr timeout has passed:
# with -o timeout=1 and with the default (1 s), after sleeping 1.5 s.
# Negative and positive lookups are primed first so kernel caches are warm.
# Usage: read-external-change.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1/merged" "$T/b2/merged" "$T/u/merged" "$M"
printf 'old' >"$T/b1/old"
printf 'old sub' >"$T/b2/merged/oldsub"
printf 'keep' >"$T/b1/keep"

run() {
	local l=$1
	shift
	uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" "$@" || return
	# prime: negative lookups, positive lookups with attrs, readdirs
	uf_check_errno "$l: new does not exist yet" ENOENT lstat "$M/new"
	uf_check_errno "$l: merged/newsub does not exist yet" ENOENT lstat "$M/merged/newsub"
	uf_check_out "$l: old is there" "old" cat "$M/old"
	uf_check_out "$l: merged/oldsub is there" "old sub" cat "$M/merged/oldsub"
	uf_check_out "$l: ls before" "$(printf '%s\n' keep merged old)" ls "$M"
	uf_check_out "$l: ls merged before" "oldsub" ls "$M/merged"

	printf 'new content' >"$T/b1/new"
	printf 'new sub' >"$T/b1/merged/newsub"
	rm "$T/b1/old" "$T/b2/merged/oldsub"
	sleep 1.5

	uf_check_out "$l: file added to b1 is readable" "new content" cat "$M/new"
	uf_check_out "$l: file added to b1 under a merged dir" "new sub" cat "$M/merged/newsub"
	uf_check_errno "$l: file removed from b1 is gone" ENOENT lstat "$M/old"
	uf_check_errno "$l: file removed from b2 under a merged dir is gone" ENOENT lstat "$M/merged/oldsub"
	uf_check_out "$l: ls after" "$(printf '%s\n' keep merged new)" ls "$M"
	uf_check_out "$l: ls merged after" "newsub" ls "$M/merged"
	uf_umount "$M"
	# restore for the next round
	mv "$T/b1/new" "$T/b1/old.tmp" && printf 'old' >"$T/b1/old" && rm "$T/b1/old.tmp"
	rm "$T/b1/merged/newsub"
	printf 'old sub' >"$T/b2/merged/oldsub"
}

run "timeout=1" -o timeout=1
run "default timeout"
uf_finish
