#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Name and path limits: 255-byte names work (also where ".wh."+name would
# exceed NAME_MAX, and whited out with a char 0/0 device), 256-byte names
# fail with ENAMETOOLONG, and directory chains deeper than PATH_MAX, one of
# them merged across two branches, can be walked with *at() calls and cd.
# Usage: read-names.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1" "$T/b2" "$T/u" "$M"
rep() { printf "%${2}s" '' | tr ' ' "$1"; }
N255=$(rep n 255)
N256=$(rep n 256)
D255=$(rep d 255)
W255=$(rep w 255)
K252=$(rep k 252)
printf 'long' >"$T/b1/$N255"
mkdir "$T/b2/$D255"
printf 'inside' >"$T/b2/$D255/$N255"
printf 'hidden' >"$T/b1/$W255"
mknod "$T/u/$W255" c 0 0
printf 'k' >"$T/b1/$K252"
mkdir "$T/b1/deepA" "$T/b1/deepB" "$T/b2/deepB"
uf_fsutil deep make "$T/b1/deepA" 200 25
uf_fsutil deep make "$T/b1/deepB" 200 25 "$T/b2/deepB"

uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" || uf_finish

uf_check_errno "lstat a 255-byte name" "OK f" lstat "$M/$N255"
uf_check_out "cat a 255-byte name" "long" cat "$M/$N255"
uf_check_out "cat a 255-byte name inside a 255-byte dir" "inside" cat "$M/$D255/$N255"
uf_check_errno "255-byte name whited out by a char 0/0 device in u" ENOENT lstat "$M/$W255"
uf_check_errno "252-byte name (\".wh.\"+name is 256 bytes) is visible" "OK f" lstat "$M/$K252"
uf_check_eq "ls -f lists the long names, not the whited-out one" \
	"$(printf '%s\n' . .. "$D255" deepA deepB "$K252" "$N255")" "$(ls -f "$M" | sort)" "ls -f $M | sort"
uf_check_errno "lstat a 256-byte name" ENAMETOOLONG lstat "$M/$N256"
uf_check_errno "open O_RDONLY a 256-byte name" ENAMETOOLONG open "$M/$N256"
uf_check_errno "open O_CREAT a 256-byte name" ENAMETOOLONG open "$M/$N256" "O_WRONLY|O_CREAT"
uf_check_errno "mkdir a 256-byte name" ENAMETOOLONG mkdir "$M/$N256"
uf_check_errno "a 256-byte component in the middle of a path" ENAMETOOLONG lstat "$M/$N256/x"
uf_check_errno "getxattr on a 256-byte name" ENAMETOOLONG getxattr "$M/$N256" user.x

uf_check_out "walk deepA (one branch) past PATH_MAX with openat" \
	"pathlen>PATH_MAX yes
mid: 013d
last: leaf-0
content: leaf-0 content" uf_fsutil deep check "$M/deepA" 200 25
uf_check_out "walk deepB (merged from b1 and b2 below PATH_MAX depth) with openat" \
	"pathlen>PATH_MAX yes
mid: 013d mid-0
last: leaf-1
content: leaf-1 content" uf_fsutil deep check "$M/deepB" 200 25
uf_check_out "cd step by step into deepB and cat the leaf" "leaf-1 content" \
	bash -c 'cd "$1" || exit 1
		for i in $(seq 0 24); do cd -P "$(printf "%03d" "$i")$(printf "%197s" "" | tr " " d)" || exit 1; done
		cat leaf-1' _ "$M/deepB"
uf_check_out "find deepB counts every entry (25 dirs, mid-0, leaf-1, top)" "28" \
	bash -c 'find "$1" | wc -l' _ "$M/deepB"
uf_finish
