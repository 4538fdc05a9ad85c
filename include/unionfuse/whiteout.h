/* The daemon's side of the on-disk format (unionfuse/layer/whiteout.h):
 * the layer library's calls with the names and limits of this union's
 * struct uf_fs filled in. */
#pragma once

#include "unionfuse/layer/whiteout.h"
#include "unionfuse/types.h"

/* @fs's xattr names and NAME_MAX, for the layer library; valid while @fs is. */
static inline struct uf_layer_fmt uf_fs_layer_fmt(const struct uf_fs *fs)
{
	return (struct uf_layer_fmt){
		.prefix = fs->xattr_prefix,
		.opaque = fs->xattr_opaque,
		.redirect = fs->xattr_redirect,
		.metacopy = fs->xattr_metacopy,
		.name_max = fs->name_max,
	};
}

static inline bool uf_dir_is_opaque(const struct uf_fs *fs, int dirfd)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_dir_is_opaque(&f, dirfd);
}

static inline int uf_dir_get_redirect(const struct uf_fs *fs, int dirfd, char **ret)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_dir_get_redirect(&f, dirfd, ret);
}

static inline int uf_file_get_metacopy(const struct uf_fs *fs, const char *path)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_file_get_metacopy(&f, path);
}

static inline int uf_file_get_redirect(const struct uf_fs *fs, int fd, char **ret)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_file_get_redirect(&f, fd, ret);
}

static inline int uf_fd_get_metacopy(const struct uf_fs *fs, int fd)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_fd_get_metacopy(&f, fd);
}

static inline int uf_dir_set_opaque(const struct uf_fs *fs, int dirfd)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_dir_set_opaque(&f, dirfd);
}

static inline int uf_dir_set_redirect(const struct uf_fs *fs, int dirfd, const char *path)
{
	struct uf_layer_fmt f = uf_fs_layer_fmt(fs);
	return uf_layer_dir_set_redirect(&f, dirfd, path);
}

static inline int uf_whiteout_create(const struct uf_fs *fs, int dirfd, const char *name)
{
	(void)fs;
	return uf_layer_whiteout_create(dirfd, name);
}
