#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Lower-branch events lost to an inotify queue overflow. The daemon watches
# the lowers and lets the kernel cache names and attributes for a day; when
# the queue overflows it cannot know what changed, so it must drop all the
# kernel caches (one FUSE epoch step on libfuse 3.18, else an invalidation
# per inode), not only shorten the timeout of what is cached afterwards.
# Made deterministic: the queue holds one event (fs.inotify.max_queued_events
# = 1 when the daemon starts; restored at once), and the daemon is stopped
# (SIGSTOP) while a first change fills the queue and a second one, to a
# file whose size the kernel has cached, is lost. After SIGCONT the union
# must show the file's new size and content.
# Usage: read-lower-overflow.sh UNIONFUSE-BINARY
set -u
BIN=${1:?usage: $0 UNIONFUSE-BINARY}
. "$(dirname "$0")/../lib/common.sh"

uf_require_fuse "$BIN"
uf_require_root
uf_tmp

T=$UF_TMP/t
M=$UF_TMP/mnt
mkdir -p "$T/l/d" "$T/u" "$M"
printf 'old' >"$T/l/d/f"
printf 'x' >"$T/l/d/other"

Q=/proc/sys/fs/inotify/max_queued_events
q_saved=$(cat "$Q")
echo 1 >"$Q"
uf_mount "$BIN" "$T/l:$T/u" "$M"
mounted=$?
echo "$q_saved" >"$Q"
[ "$mounted" = 0 ] || uf_finish
pid=$(uf_daemon_pid "$M")

uf_check_out "the file's size, now cached" "3" stat -c %s "$M/d/f"
uf_check_out "its content" "old" cat "$M/d/f"
kill -STOP "$pid"
printf 'y' >>"$T/l/d/other"                  # fills the one-event queue
printf 'new and longer' >"$T/l/d/f"          # lost: IN_Q_OVERFLOW instead
printf 'z' >>"$T/l/d/other"
kill -CONT "$pid"
sleep 1.5
uf_check_out "after the overflow the new size shows" "14" stat -c %s "$M/d/f"
uf_check_out "... and the new content" "new and longer" cat "$M/d/f"
uf_umount "$M"
uf_check_eq "nothing was copied up" "" "$(find "$T/u" -mindepth 1)"
uf_finish
