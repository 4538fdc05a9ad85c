/* Extended attributes. The format's own overlay.* names are never shown nor
 * settable through the union; setting or removing another name copies the
 * object up first. Non-directories are reached through /proc/self/fd because
 * their fds are O_PATH, which the f*xattr() calls refuse. */
#include <string.h>
#include <sys/xattr.h>

#include "unionfuse/copyup.h"
#include "unionfuse/inode.h"
#include "unionfuse/ops.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

static ssize_t get_raw(struct uf_inode *ino, const char *name, void *buf, size_t size)
{
	char path[UF_PROC_FD_MAX];
	int fd = uf_inode_top_fd(ino);

	if (S_ISDIR(ino->type))
		return uf_neg_errno_ssize(fgetxattr(fd, name, buf, size));
	return uf_neg_errno_ssize(getxattr(uf_proc_fd(path, fd), name, buf, size));
}

static ssize_t list_raw(struct uf_inode *ino, char *buf, size_t size)
{
	char path[UF_PROC_FD_MAX];
	int fd = uf_inode_top_fd(ino);

	if (S_ISDIR(ino->type))
		return uf_neg_errno_ssize(flistxattr(fd, buf, size));
	return uf_neg_errno_ssize(listxattr(uf_proc_fd(path, fd), buf, size));
}

void uf_ll_getxattr(fuse_req_t req, fuse_ino_t id, const char *name, size_t size)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);

	if (uf_is_private_xattr(name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	g_autofree char *buf = size ? g_malloc(size) : NULL;
	ssize_t n = get_raw(ino, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

void uf_ll_listxattr(fuse_req_t req, fuse_ino_t id, size_t size)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	ssize_t n;
	g_autofree char *raw = NULL;

	/* The private names must be filtered, so always fetch the list. */
	do {
		n = list_raw(ino, NULL, 0);
		if (n <= 0)
			break;
		g_free(raw);
		raw = g_malloc(n);
		n = list_raw(ino, raw, n);
	} while (n == -ERANGE);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	g_autoptr(GString) out = g_string_new(NULL);
	for (ssize_t i = 0; i < n; i += strlen(raw + i) + 1)
		if (!uf_is_private_xattr(raw + i))
			g_string_append_len(out, raw + i, strlen(raw + i) + 1);
	if (size == 0)
		fuse_reply_xattr(req, out->len);
	else if (out->len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out->str, out->len);
}

static int set_or_remove(struct uf_fs *fs, struct uf_inode *ino, const char *name,
			 const char *value, size_t size, int flags, bool remove)
{
	char path[UF_PROC_FD_MAX];

	if (uf_is_private_xattr(name))
		return -EPERM;
	if (remove) {
		/* Removing what is not there must not copy anything up. */
		ssize_t n = get_raw(ino, name, NULL, 0);
		if (n < 0)
			return (int)n;
	}
	int r = uf_copyup(fs, ino, 0);
	if (r < 0)
		return r;
	int fd = uf_inode_upper(ino);
	if (S_ISDIR(ino->type))
		return remove ? uf_neg_errno(fremovexattr(fd, name))
			      : uf_neg_errno(fsetxattr(fd, name, value, size, flags));
	uf_proc_fd(path, fd);
	return remove ? uf_neg_errno(removexattr(path, name))
		      : uf_neg_errno(setxattr(path, name, value, size, flags));
}

void uf_ll_setxattr(fuse_req_t req, fuse_ino_t id, const char *name, const char *value,
		    size_t size, int flags)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	fuse_reply_err(req, -set_or_remove(fs, uf_inode_from_id(fs, id), name, value, size, flags,
					   false));
}

void uf_ll_removexattr(fuse_req_t req, fuse_ino_t id, const char *name)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	fuse_reply_err(req, -set_or_remove(fs, uf_inode_from_id(fs, id), name, NULL, 0, 0, true));
}
