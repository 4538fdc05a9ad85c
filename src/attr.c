/* getattr/setattr/readlink/access. Attribute changes copy the object up
 * first; the lower branches are never written. */
#include <fcntl.h>
#include <string.h>

#include "unionfuse/copyup.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/ops.h"
#include "unionfuse/util.h"

void uf_ll_getattr(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	struct stat st;
	int r;

	/* An open file answers for itself: it may have no name left (nlink 0). */
	if (fi && fi->fh && S_ISREG(ino->type)) {
		struct uf_file *f = (struct uf_file *)(uintptr_t)fi->fh;
		r = uf_neg_errno(fstat(atomic_load(&f->fd), &st));
		if (r == 0)
			uf_stat_fixup(fs, ino, &st);
	} else {
		r = uf_inode_stat(fs, ino, &st);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

/* utimensat() on an O_PATH fd: through /proc, or for a symlink through its
 * parent (a proc link would be followed). */
static int set_times(struct uf_fs *fs, struct uf_inode *ino, int fd, const struct timespec ts[2])
{
	char path[UF_PROC_FD_MAX];

	if (!S_ISLNK(ino->type))
		return uf_neg_errno(utimensat(AT_FDCWD, uf_proc_fd(path, fd), ts, 0));

	struct uf_inode *parent;
	g_autofree char *name = NULL;
	int r = uf_inode_get_parent(fs, ino, &parent, &name);
	if (r < 0)
		return r;
	r = uf_neg_errno(utimensat(uf_inode_upper(parent), name, ts, AT_SYMLINK_NOFOLLOW));
	uf_inode_unref(fs, parent);
	return r;
}

static int do_setattr(struct uf_fs *fs, struct uf_inode *ino, const struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	char path[UF_PROC_FD_MAX];
	bool trunc0 = (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0;
	int r = uf_copyup(fs, ino, trunc0 ? UF_COPYUP_NODATA : 0);
	if (r < 0)
		return r;

	int fd = uf_inode_upper(ino);
	int ofd = fi && fi->fh && S_ISREG(ino->type)
			  ? atomic_load(&((struct uf_file *)(uintptr_t)fi->fh)->fd)
			  : -1;

	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		r = uf_neg_errno(fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
		if (r < 0)
			return r;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (S_ISLNK(ino->type))
			return -EOPNOTSUPP;
		r = uf_neg_errno(fchmodat(AT_FDCWD, uf_proc_fd(path, fd), attr->st_mode & 07777, 0));
		if (r < 0)
			return r;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		r = ofd >= 0 ? uf_neg_errno(ftruncate(ofd, attr->st_size))
			     : uf_neg_errno(truncate(uf_proc_fd(path, fd), attr->st_size));
		if (r < 0)
			return r;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		r = ofd >= 0 ? uf_neg_errno(futimens(ofd, ts)) : set_times(fs, ino, fd, ts);
		if (r < 0)
			return r;
	}
	return 0;
}

void uf_ll_setattr(fuse_req_t req, fuse_ino_t id, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	struct stat st;

	int r = do_setattr(fs, ino, attr, to_set, fi);
	if (r == 0)
		r = uf_inode_stat(fs, ino, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

void uf_ll_readlink(fuse_req_t req, fuse_ino_t id)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	char buf[PATH_MAX + 1];

	ssize_t n = readlinkat(uf_inode_top_fd(ino), "", buf, sizeof(buf));
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if ((size_t)n >= sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

void uf_ll_access(fuse_req_t req, fuse_ino_t id, int mask)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;

	/* Only asked without default_permissions: check the union's view. */
	int r = uf_inode_stat(fs, ino, &st);
	if (r == 0 && (mask & W_OK) && !fs->upper)
		r = -EROFS;
	if (r == 0 && mask != F_OK && ctx->uid != 0) {
		mode_t bits = st.st_uid == ctx->uid ? (st.st_mode >> 6)
			      : st.st_gid == ctx->gid ? (st.st_mode >> 3)
						       : st.st_mode;
		if ((mask & bits & 7) != (mask & 7))
			r = -EACCES;
	} else if (r == 0 && (mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111)) {
		r = -EACCES;
	}
	fuse_reply_err(req, -r);
}
