/* Watching the lower branches for changes made behind the union's back, so
 * that the kernel may cache names, attributes and listings for long. */
#pragma once

#include "unionfuse/types.h"

/* Set up the inotify instance. Returns 0, or -errno when there is none to be
 * had (then the union runs on short cache timeouts instead). */
int uf_notify_init(struct uf_fs *fs);

/* Start the thread that turns inotify events into FUSE invalidations. Call
 * after fuse_daemonize(): threads do not survive its fork. */
int uf_notify_start(struct uf_fs *fs, struct fuse_session *se);

/* Stop the thread and close the instance. */
void uf_notify_stop(struct uf_fs *fs);

/* Watch the lower directories of dir @ino. Takes inodes_lock. On failure
 * (the watch limit) the union falls back to short timeouts. */
void uf_notify_watch(struct uf_fs *fs, struct uf_inode *ino);

/* Drop the watches of dir @ino. Caller holds inodes_lock. */
void uf_notify_unwatch_locked(struct uf_fs *fs, struct uf_inode *ino);
