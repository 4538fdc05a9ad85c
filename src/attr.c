/* getattr/setattr/readlink/access. Attribute changes copy the object up
 * first; the lower branches are never written. */
#include <fcntl.h>
#include <string.h>

#include "unionfuse/copyup.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/modes.h"
#include "unionfuse/ops.h"
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

void uf_ll_getattr(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	struct stat st;
	int r;

	/* An open file answers for itself: it may have no name left (nlink 0). */
	struct uf_file *f = fi && S_ISREG(ino->type) ? (struct uf_file *)(uintptr_t)fi->fh : NULL;
	/* A lower handle may hold only the data of a metadata-only copy. */
	if (f && !f->lower) {
		r = uf_neg_errno(fstat(atomic_load(&f->fd), &st));
		if (r == 0)
			uf_stat_fixup(fs, ino, &st);
	} else {
		r = uf_inode_stat(fs, ino, &st);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, uf_attr_timeout(fs, ino));
}

/* chown(f, -1, -1) reaches us as a setattr of nothing (FUSE sends
 * ATTR_CTIME alone as no attribute, or as FATTR_CTIME under the writeback
 * cache). It still changes ctime and drops security.capability, as on the
 * kernel overlayfs, which passes it to the upper: chown(upper, -1, -1) does
 * both. So does the kernel's setattr before a write that drops privileges,
 * and the write changes ctime anyway. */
static bool only_ctime(int to_set)
{
	return !(to_set & ~FUSE_SET_ATTR_CTIME);
}

/* Apply @attr to the upper object of a non-directory, through an fd on
 * exactly that object (never by a name that may have changed), or through
 * the open file @ofd. */
static int setattr_nondir(struct uf_fs *fs, struct uf_inode *ino, const struct stat *attr,
			  int to_set, int ofd, const struct timespec ts[2])
{
	struct uf_located loc;
	int r = uf_inode_locate(fs, ino, UF_TOP, &loc);
	if (r < 0)
		return r;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) || only_ctime(to_set)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		r = uf_loc_chown(&loc, uid, gid);
	}
	if (r == 0 && (to_set & FUSE_SET_ATTR_MODE))
		r = S_ISLNK(ino->type) ? -EOPNOTSUPP : uf_loc_chmod(&loc, attr->st_mode & 07777);
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		_cleanup_close_ int fd = -1;
		if (ofd < 0)
			ofd = fd = uf_loc_open(&loc, O_WRONLY);
		r = ofd < 0 ? ofd : uf_neg_errno(ftruncate(ofd, attr->st_size));
	}
	if (r == 0 && ts)
		r = uf_loc_utimens(&loc, ts);
	uf_located_done(&loc);
	return r;
}

static int setattr_dir(struct uf_inode *ino, const struct stat *attr, int to_set,
		       const struct timespec ts[2])
{
	int fd = uf_inode_upper(ino);
	int r = 0;

	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) || only_ctime(to_set)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		r = uf_neg_errno(fchown(fd, uid, gid));
	}
	if (r == 0 && (to_set & FUSE_SET_ATTR_MODE))
		r = uf_neg_errno(fchmod(fd, attr->st_mode & 07777));
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		r = -EISDIR;
	if (r == 0 && ts)
		r = uf_neg_errno(futimens(fd, ts));
	return r;
}

static int do_setattr(struct uf_fs *fs, struct uf_inode *ino, const struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	bool trunc0 = (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0;
	unsigned flags = trunc0				 ? UF_COPYUP_NODATA
			 : (to_set & FUSE_SET_ATTR_SIZE) ? 0
							 : UF_COPYUP_META;
	int r = uf_copyup(fs, ino, flags);
	/* The writeback cache flushes times of a file unlinked while open;
	 * a lower one has nowhere to keep them. */
	if (r == -ESTALE &&
	    !(to_set & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			 FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)))
		return 0;
	if (r < 0)
		return r;

	struct timespec tsbuf[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	const struct timespec *ts = NULL;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tsbuf[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tsbuf[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tsbuf[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tsbuf[1] = attr->st_mtim;
		ts = tsbuf;
	}
	if (S_ISDIR(ino->type)) {
		/* Copy-ups into the dir restore its times under this lock. */
		r = uf_inode_trylock(ino);
		if (r < 0)
			return r;
		r = setattr_dir(ino, attr, to_set, ts);
		g_mutex_unlock(&ino->lock);
		return r;
	}
	int ofd = fi && fi->fh && S_ISREG(ino->type)
		      ? atomic_load(&((struct uf_file *)(uintptr_t)fi->fh)->fd)
		      : -1;
	return setattr_nondir(fs, ino, attr, to_set, ofd, ts);
}

/* Answer the setattr, or return -EWOULDBLOCK having changed nothing. */
static int reply_setattr(fuse_req_t req, fuse_ino_t id, const struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	struct stat st;

	/* A setattr of nothing is, under KILLPRIV_V2, also what a chown(-1, -1)
	 * sends: decide its EPERM before do_setattr() copies up or touches the
	 * upper (its chown(upper, -1, -1) would drop the bits as root). */
	if (to_set == 0 && fs->killpriv_v2 && !S_ISDIR(ino->type)) {
		int r = uf_inode_stat(fs, ino, &st);
		if (r == 0 && uf_killpriv_refused(fs, req, ino, &st))
			r = -EPERM;
		if (r < 0) {
			fuse_reply_err(req, -r);
			return 0;
		}
	}
	int r = do_setattr(fs, ino, attr, to_set, fi);
	if (r == -EWOULDBLOCK)
		return r;
	if (r == 0)
		r = uf_inode_stat(fs, ino, &st);
	/* A truncate drops setuid/setgid by the kernel's rule, which FUSE's
	 * own recomputation narrows; a setattr of nothing at all is the kernel
	 * asking for that before a write (modes.c), or under KILLPRIV_V2 its
	 * ATTR_KILL_SUID of a write or a chown(-1, -1), the flag stripped. */
	if (r == 0 && (st.st_mode & (S_ISUID | S_ISGID)) &&
	    ((to_set & FUSE_SET_ATTR_SIZE) || to_set == 0) && uf_inode_in_upper(fs, ino)) {
		r = uf_killpriv_inode(fs, req, ino, to_set == 0 && fs->killpriv_v2);
		if (r == 0)
			r = uf_inode_stat(fs, ino, &st);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, uf_attr_timeout(fs, ino));
	return 0;
}

static void run_setattr(struct uf_job *j)
{
	reply_setattr(j->req, j->ino, &j->attr, j->to_set, j->has_fi ? &j->fi : NULL);
}

void uf_ll_setattr(fuse_req_t req, fuse_ino_t id, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	bool trunc0 = (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0;

	bool meta_only = !(to_set & FUSE_SET_ATTR_SIZE) && fs->metacopy;
	bool long_job = !trunc0 && !meta_only && uf_copyup_copies_data(fs, uf_inode_from_id(fs, id));
	if (long_job || reply_setattr(req, id, attr, to_set, fi) == -EWOULDBLOCK) {
		struct uf_job *j = uf_job_new(run_setattr, req);
		j->ino = id;
		j->attr = *attr;
		j->to_set = to_set;
		j->has_fi = fi != NULL;
		if (fi)
			j->fi = *fi;
		uf_job_submit(fs, j);
	}
}

void uf_ll_readlink(fuse_req_t req, fuse_ino_t id)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_located loc;
	char buf[PATH_MAX + 1];

	int r = uf_inode_locate(fs, uf_inode_from_id(fs, id), UF_TOP, &loc);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	ssize_t n = uf_loc_readlink(&loc, buf, sizeof(buf));
	r = n < 0 ? (int)n : (size_t)n >= sizeof(buf) ? -ENAMETOOLONG : 0;
	uf_located_done(&loc);
	if (r < 0) {
		fuse_reply_err(req, -r);
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
		mode_t bits = st.st_uid == ctx->uid   ? (st.st_mode >> 6)
			      : st.st_gid == ctx->gid ? (st.st_mode >> 3)
						      : st.st_mode;
		if ((mask & bits & 7) != (mask & 7))
			r = -EACCES;
	} else if (r == 0 && (mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111)) {
		r = -EACCES;
	}
	fuse_reply_err(req, -r);
}
