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
