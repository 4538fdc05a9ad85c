/* Name resolution: (directory inode, name) -> inode, walking the branches
 * top-down and stopping at a whiteout, an opaque directory or a non-dir. */
#pragma once

#include <sys/stat.h>

#include "unionfuse/inode.h"
#include "unionfuse/types.h"

/* The topmost real object named @name in the layers @L of a directory.
 * Returns 0 with ret_layer set to its index in @L and *ret_st filled, or
 * -ENOENT when no layer has it (or a whiteout hides it), or -errno. */
int uf_find(const struct uf_fs *fs, const struct uf_layers *L, const char *name,
	    unsigned *ret_layer, struct stat *ret_st);

/* Resolve @name in @dir and count one kernel lookup on the result.
 * Returns 0, the inode in *ret_ino and its union attributes in *ret_st;
 * or -errno (-ENOENT when hidden, -ENAMETOOLONG past the branches' NAME_MAX). */
int uf_namei(struct uf_fs *fs, struct uf_inode *dir, const char *name, struct uf_inode **ret_ino,
	     struct stat *ret_st);

/* Does @name exist in a lower branch under @dir, below the upper, in a way
 * that removing the upper's entry would expose? Returns 1, 0 or -errno. */
int uf_name_in_lower(const struct uf_fs *fs, struct uf_inode *dir, const char *name);

/* Check a name the user wants to create. Returns 0 or -errno. */
int uf_check_new_name(const struct uf_fs *fs, const char *name);
