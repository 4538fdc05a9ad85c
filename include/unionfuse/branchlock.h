/* The base must not change under a running union by accident. Every mount
 * holds flock(LOCK_SH) on each lower branch's directory for its life (on the
 * branch's own fd, so the lock goes with the daemon however it ends);
 * `unionfuse lock BRANCH -- COMMAND` takes flock(LOCK_EX) on the same
 * directory. flock() locks the inode, so a read-only branch, a bind mount or
 * our private clone of it all share the one lock. Advisory: only unionfuse
 * (and flock(1)) honour it. -o nolock mounts without. */
#pragma once

#include <sys/types.h>

#include "unionfuse/types.h"

/* The processes other than us holding a flock() on the directory (@dev,
 * @ino), only LOCK_EX holders when @exclusive_only: "pid N (COMMAND LINE)",
 * comma-separated, or NULL when there is none. Reads /proc/PID/fdinfo: the
 * pid in /proc/locks is the one that took the lock, and a daemon took it
 * before it detached, in a parent that has exited since. */
char *uf_lock_holders(dev_t dev, ino_t ino, bool exclusive_only);

/* Take the shared lock on every lower branch of @fs. A lower locked
 * exclusively is waited for, up to @wait seconds (< 0: for ever), with one
 * line in the log saying who holds it. Returns 0, or -errno with one line in
 * *reterr_msg (gave up, or the filesystem has no flock()). */
int uf_branches_lock_shared(struct uf_fs *fs, double wait, char **reterr_msg);
