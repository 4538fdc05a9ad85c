/* Namespace changes: creating, linking, removing and renaming names. */
#pragma once

#include <sys/stat.h>

#include "unionfuse/types.h"

/* Create @name in @dir for the caller of @req. The S_IFMT bits of @mode pick
 * the kind: S_IFREG is opened with @oflags and its fd returned in *ret_fd;
 * @rdev is for devices, @link the target of a symlink. Replaces a whiteout;
 * a directory made over one is opaque. Publishes the inode with one lookup.
 * Returns 0 or -errno (-EEXIST when the name is visible). */
int uf_dir_create(struct uf_fs *fs, fuse_req_t req, struct uf_inode *dir, const char *name,
		  mode_t mode, dev_t rdev, const char *link, int oflags, int *ret_fd,
		  struct uf_inode **ret_ino, struct stat *ret_st);
