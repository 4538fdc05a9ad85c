/* Invalidations of the kernel's cache that we decide on while answering a
 * request (a name found to hold another object than the inode it was looked
 * up as). They are sent from a thread of their own: the kernel takes the
 * directory's lock to drop an entry, and the request being answered may hold
 * it, so sending from the request's thread could deadlock. */
#pragma once

#include "unionfuse/types.h"

/* Start and stop the sending thread. */
int uf_inval_start(struct uf_fs *fs, struct fuse_session *se);
void uf_inval_stop(struct uf_fs *fs);

/* Have the kernel drop its entry for the name of @ino (parent, name) and
 * look it up again. Never blocks; a no-op before the mount is up. */
void uf_inode_invalidate_name(struct uf_fs *fs, struct uf_inode *ino);

/* Have the kernel drop everything it caches of the union's names, after
 * lower-branch events were lost: one FUSE epoch step (libfuse 3.18, kernel
 * protocol 7.44), else one entry invalidation per inode in the table.
 * Never blocks on the kernel. */
void uf_inval_all(struct uf_fs *fs);
