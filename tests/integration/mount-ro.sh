#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Read-only unions: "-o ro BRANCHES", "-o lowerdir=TOP:BOTTOM" (no upper)
# and "-o lowerdir=ONE".  Reads work; every kind of write fails with EROFS;
# no branch changes.
# Usage: mount-ro.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/b1/dir" "$T/b2/emptydir" "$T/u" "$M"
printf 'b1 file' >"$T/b1/file"
printf 'b1 shadowed' >"$T/b1/shadow"
printf 'b2 shadow' >"$T/b2/shadow"
printf 'in dir' >"$T/b1/dir/inner"
printf 'upper' >"$T/u/upfile"
ln -s file "$T/b2/link"
before=$(tree_snapshot "$T")

# write_probes LABEL: every write must fail with EROFS.
write_probes() {
	local l=$1
	uf_check_errno "$l: open O_WRONLY existing" EROFS open "$M/file" O_WRONLY
	uf_check_errno "$l: open O_RDWR existing" EROFS open "$M/file" O_RDWR
	uf_check_errno "$l: open O_WRONLY|O_TRUNC existing" EROFS open "$M/shadow" "O_WRONLY|O_TRUNC"
	uf_check_errno "$l: create a new file" EROFS open "$M/new" "O_WRONLY|O_CREAT"
	uf_check_errno "$l: create in a subdir" EROFS open "$M/dir/new" "O_WRONLY|O_CREAT|O_EXCL"
	uf_check_errno "$l: mkdir" EROFS mkdir "$M/newdir"
	uf_check_errno "$l: rmdir an empty dir" EROFS rmdir "$M/emptydir"
	uf_check_errno "$l: unlink" EROFS unlink "$M/file"
	uf_check_errno "$l: rename" EROFS rename "$M/file" "$M/file2"
	uf_check_errno "$l: symlink" EROFS symlink "$M/newlink" target
	uf_check_errno "$l: link" EROFS link "$M/newhard" "$M/file"
	uf_check_errno "$l: mkfifo" EROFS mkfifo "$M/newfifo"
	uf_check_errno "$l: mknod" EROFS mknod "$M/newnod"
	uf_check_errno "$l: truncate" EROFS truncate "$M/file" 0
	uf_check_errno "$l: chmod" EROFS chmod "$M/file" 600
	uf_check_errno "$l: chown" EROFS chown "$M/file" 1 1
	uf_check_errno "$l: utimes" EROFS utime "$M/file"
	uf_check_errno "$l: setxattr" EROFS setxattr "$M/file" user.x y
	uf_check_errno "$l: removexattr" EROFS removexattr "$M/file" user.x
	uf_check_out "$l: shell redirection fails" "EROFS-ish failure" \
		bash -c '(echo x >"$1") 2>/dev/null && echo wrote || echo EROFS-ish failure' _ "$M/file"
}

# read_probes LABEL EXPECTED-LS: the view is readable.
read_probes() {
	uf_check_out "$1: cat file" "b1 file" cat "$M/file"
	uf_check_out "$1: cat dir/inner" "in dir" cat "$M/dir/inner"
	uf_check_out "$1: ls" "$2" ls "$M"
}

uf_log "-o ro with BRANCHES"
if uf_mount "$BIN" "$T/b1:$T/b2:$T/u" "$M" -o ro; then
	read_probes "-o ro" "$(printf '%s\n' dir emptydir file link shadow upfile)"
	uf_check_out "-o ro: shadow from b2" "b2 shadow" cat "$M/shadow"
	write_probes "-o ro"
	uf_umount "$M"
fi

uf_log "-o lowerdir=B2:B1 (no upper)"
if uf_mount_args "$BIN" "$M" -o "lowerdir=$T/b2:$T/b1" "$M"; then
	read_probes "lowerdir=b2:b1" "$(printf '%s\n' dir emptydir file link shadow)"
	uf_check_out "lowerdir=b2:b1: shadow from b2 (top first)" "b2 shadow" cat "$M/shadow"
	write_probes "lowerdir=b2:b1"
	uf_umount "$M"
fi

uf_log "-o lowerdir=B1 (one branch)"
if uf_mount_args "$BIN" "$M" -o "lowerdir=$T/b1" "$M"; then
	read_probes "lowerdir=b1" "$(printf '%s\n' dir file shadow)"
	uf_check_errno "lowerdir=b1: create a new file" EROFS open "$M/new" "O_WRONLY|O_CREAT"
	uf_check_errno "lowerdir=b1: unlink" EROFS unlink "$M/file"
	uf_check_errno "lowerdir=b1: mkdir" EROFS mkdir "$M/newdir"
	uf_umount "$M"
fi

uf_check_eq "no branch changed" "$before" "$(tree_snapshot "$T")"
uf_finish
