/* Metadata-only files: where their data is. A file marked overlay.metacopy
 * takes its data from a file below it, found by its name or by its own
 * overlay.redirect, possibly through further metacopy files, down to a
 * data-only branch (the kernel's ovl_lookup() and ovl_lookup_data_layers();
 * docs/format.md "Metadata-only files"). */
#pragma once

#include <sys/stat.h>

#include "unionfuse/inode.h"
#include "unionfuse/types.h"

/* Is regular file @name in @dirfd, found as @st, a metadata-only file? Only
 * a file with holes or of one block at most can be one, which spares the
 * xattr lookup for all others. Returns 1, 0, or -EIO for an invalid
 * overlay.metacopy value. */
int uf_metacopy_is(const struct uf_fs *fs, int dirfd, const char *name, const struct stat *st);

/* Find the data of metadata-only file @name in layer @found of @L (its
 * parent's layers) for candidate @cand: sets cand->data_branch, ->data_real
 * and ->data_path. Returns 0; -EIO when there is none or a redirect on the
 * way is invalid (as the kernel); -EPERM for a lower's metacopy file above
 * the bottom plain branch when metacopy is off (the kernel's "refusing to
 * follow metacopy origin"); or -errno. */
int uf_metacopy_find_data(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			  const char *name, struct uf_inode *cand);

/* O_PATH fd on the object at relative path @path beneath directory @rootfd,
 * walked as a redirect is: no symlink (a last one is opened itself), no
 * "..", no other mount. Returns the fd or -errno. */
int uf_metacopy_open_beneath(int rootfd, const char *path);
