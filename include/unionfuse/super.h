/* The lifetime of a mounted union: branches opened and checked, the root
 * inode, and teardown. */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* Open and check every branch of @c (and the work dir and mount point):
 * each exists, is a readable directory, none is given twice or nested in
 * another, the mount point is in none of them. Creates nothing. Returns 0
 * and a new filesystem in *ret, or -errno with one line in *reterr_msg. */
int uf_fs_new(const struct uf_config *c, struct uf_fs **ret, char **reterr_msg);

/* The mount is gone and no request runs any more: make the upper whole on
 * disk for a volatile mount, drop its marker, and let a new mount of these
 * branches in (before the slower freeing). */
void uf_fs_unmounted(struct uf_fs *fs);

void uf_fs_free(struct uf_fs *fs);

/* Apply -o squash_to_root/squash_to_uid=/squash_to_gid= and static_nlink
 * (fuse-overlayfs's options) to a stat the union reports. The kernel checks
 * permissions (default_permissions) against what this leaves. */
void uf_stat_apply_opts(const struct uf_fs *fs, struct stat *st);
