/* The daemon's side of temporary names (unionfuse/layer/temp.h): the layer
 * library's calls with this union's struct uf_fs filled in. */
#pragma once

#include "unionfuse/layer/temp.h"
#include "unionfuse/types.h"
#include "unionfuse/whiteout.h"

static inline int uf_dir_replace_empty(const struct uf_fs *fs, int dirfd, const char *name)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_dir_replace_empty(&f, dirfd, name);
}

/* Remove what dead daemons left in the work dir. */
static inline void uf_tmp_cleanup(struct uf_fs *fs)
{
	uf_tmp_reap_dir(fs->work_fd);
}
