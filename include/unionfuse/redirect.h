/* Renamed directories in stacked branches: following overlay.redirect
 * layer by layer on lookup, and choosing the value a rename writes, by the
 * kernel overlayfs's rules (fs/overlayfs/namei.c ovl_lookup(), dir.c
 * ovl_set_redirect()). docs/format.md, "Redirects", states them. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "unionfuse/inode.h"
#include "unionfuse/types.h"

/* Gather the lower parts of a directory whose topmost real dir is @top_fd,
 * named @name in layer @found of its parent's layers @L. Each branch below
 * is searched with the name or path the layers above it lead to: a redirect
 * met in branch k (on the dir, or on a dir along an absolute path) applies
 * to the branches below k; an opaque dir, a whiteout or a non-dir ends the
 * search. Appends a struct uf_layer per dir found to @lowers (the caller
 * closes them, also on error). *ret_redirect gets the top dir's own
 * redirect as read (NULL: none), what a later rename starts from when the
 * top is the upper. Returns 0, or -errno: -EINVAL or -EACCES for an invalid
 * redirect (as the kernel's lookup), or a layer that could not be read. */
int uf_redirect_lower_dirs(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			   const char *name, int top_fd, GArray *lowers, char **ret_redirect);

/* The redirect a rename of directory @ino (copied up, not yet moved) must
 * write, as the kernel does: none (NULL) when it has no lower parts, or when
 * it already has a redirect that stays right (any, for a rename within its
 * directory (@samedir); an absolute one, for a move elsewhere). Otherwise
 * its old name for a rename within the directory, else its absolute path in
 * the branch below the upper: the union path, with each ancestor's own
 * redirect in place of its name (an absolute one ends the path), of any
 * length. Takes fs->inodes_lock. Returns 0 and the value or NULL in *ret. */
int uf_redirect_for_rename(struct uf_fs *fs, struct uf_inode *ino, bool samedir, char **ret);
