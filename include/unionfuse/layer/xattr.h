/* Extended attributes of real objects (layer library): the primitives the
 * daemon's handlers and the tools share. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* A real object whose xattrs we touch: by fd with the f*xattr() calls when
 * fd >= 0, else by path: followed (a /proc/self/fd/N link) when @follow, else
 * naming the object itself (/proc/self/fd/DIRFD/NAME) for the l*xattr() calls. */
struct uf_xobj {
	int fd;
	const char *path;
	bool follow;
};

ssize_t uf_xlist(const struct uf_xobj *o, char *buf, size_t size);
ssize_t uf_xget(const struct uf_xobj *o, const char *name, void *buf, size_t size);
int uf_xset(const struct uf_xobj *o, const char *name, const void *val, size_t size, int flags);
int uf_xremove(const struct uf_xobj *o, const char *name);

/* The whole name list of @o, in a new buffer (g_free; NULL when empty).
 * Returns its length or -errno. */
ssize_t uf_xlist_all(const struct uf_xobj *o, char **ret);

/* "/proc/self/fd/DIRFD/NAME": a path to @name under @dirfd for the calls
 * that have no *at() form. */
char *uf_at_path(int dirfd, const char *name);

/* Copy every xattr but the format's private ones (those under @prefix, see
 * uf_is_private_xattr()) from @src to @dst; all of them when @prefix is
 * NULL (a copy within the lowers, where they are the format). Security labels and ACLs the
 * destination refuses are skipped. Returns 0 or -errno. */
int uf_layer_copy_xattrs(const char *prefix, const struct uf_xobj *src, const struct uf_xobj *dst);
