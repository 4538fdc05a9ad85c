/* Extended attributes of real objects: get, set, list and remove by fd or
 * by path, and copying them between objects. Part of the layer library. */
#include <string.h>
#include <sys/xattr.h>

#include "unionfuse/layer/whiteout.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/util.h"

char *uf_at_path(int dirfd, const char *name)
{
	return g_strdup_printf("/proc/self/fd/%d/%s", dirfd, name);
}

ssize_t uf_xlist(const struct uf_xobj *o, char *buf, size_t size)
{
	if (o->fd >= 0)
		return uf_neg_errno_ssize(flistxattr(o->fd, buf, size));
	return uf_neg_errno_ssize(o->follow ? listxattr(o->path, buf, size)
					    : llistxattr(o->path, buf, size));
}

ssize_t uf_xget(const struct uf_xobj *o, const char *name, void *buf, size_t size)
{
	if (o->fd >= 0)
		return uf_neg_errno_ssize(fgetxattr(o->fd, name, buf, size));
	return uf_neg_errno_ssize(o->follow ? getxattr(o->path, name, buf, size)
					    : lgetxattr(o->path, name, buf, size));
}

int uf_xset(const struct uf_xobj *o, const char *name, const void *val, size_t size, int flags)
{
	if (o->fd >= 0)
		return uf_neg_errno(fsetxattr(o->fd, name, val, size, flags));
	return uf_neg_errno(o->follow ? setxattr(o->path, name, val, size, flags)
				      : lsetxattr(o->path, name, val, size, flags));
}

int uf_xremove(const struct uf_xobj *o, const char *name)
{
	if (o->fd >= 0)
		return uf_neg_errno(fremovexattr(o->fd, name));
	return uf_neg_errno(o->follow ? removexattr(o->path, name) : lremovexattr(o->path, name));
}

ssize_t uf_xlist_all(const struct uf_xobj *o, char **ret)
{
	ssize_t n;

	*ret = NULL;
	do {
		n = uf_xlist(o, NULL, 0);
		if (n <= 0)
			return n;
		g_free(*ret);
		*ret = g_malloc(n);
		n = uf_xlist(o, *ret, n);
	} while (n == -ERANGE);
	return n;
}

int uf_layer_copy_xattrs(const char *prefix, const struct uf_xobj *src, const struct uf_xobj *dst)
{
	g_autofree char *names = NULL;
	ssize_t n = uf_xlist_all(src, &names);

	if (n == -ENOTSUP)
		return 0;
	if (n < 0)
		return (int)n;
	for (char *name = names; name < names + n; name += strlen(name) + 1) {
		if (prefix && uf_is_private_xattr(prefix, name))
			continue;
		ssize_t vn = uf_xget(src, name, NULL, 0);
		if (vn < 0)
			continue;
		g_autofree char *val = g_malloc(vn + 1);
		vn = uf_xget(src, name, val, vn);
		if (vn < 0)
			continue;
		int r = uf_xset(dst, name, val, vn, 0);
		/* The upper may refuse a label or an ACL it does not support;
		 * user data must not be lost. */
		if (r < 0 &&
		    !((g_str_has_prefix(name, "security.") || g_str_has_prefix(name, "system.")) &&
		      (r == -ENOTSUP || r == -EPERM || r == -EINVAL)))
			return r;
	}
	return 0;
}
