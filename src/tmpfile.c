/* open(dir, O_TMPFILE) through the union (FUSE_TMPFILE, libfuse >= 3.15's
 * .tmpfile): an unnamed regular file in the upper copy of the directory, as
 * the kernel overlayfs makes it (6.6 on). It lives while open; linkat() of
 * it (AT_EMPTY_PATH, /proc/self/fd) gives it a name through the ordinary
 * link path, which finds it by its pin. Without .tmpfile in libfuse the
 * kernel gets ENOSYS and the caller EOPNOTSUPP. */
#include <fcntl.h>
#include <sys/xattr.h>

#include "unionfuse/copyup.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/ops.h"
#include "unionfuse/passthrough.h"
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

#ifdef UF_HAVE_LL_TMPFILE

/* The owner and mode a new file gets (dir.c's rules for create): the
 * caller's, the group of a setgid directory; setuid/setgid set after the
 * chown, which would clear them; with POSIX ACLs, the umask unless the
 * directory has a default ACL. */
static int make_tmpfile(struct uf_fs *fs, fuse_req_t req, int updir, mode_t mode, int flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[UF_PROC_FD_MAX];
	struct stat pst, st;
	gid_t gid = ctx->gid;

	if (fs->posix_acl && fgetxattr(updir, "system.posix_acl_default", NULL, 0) <= 0)
		mode &= ~(ctx->umask & 0777);
	_cleanup_close_ int fd =
	    openat(updir, ".", (flags & ~(O_CREAT | O_EXCL)) | O_TMPFILE | O_CLOEXEC, mode & 0777);
	if (fd < 0)
		return -errno;
	if (fstat(updir, &pst) == 0 && (pst.st_mode & S_ISGID))
		gid = pst.st_gid;
	if (fchown(fd, ctx->uid, gid) < 0)
		return -errno;
	if ((mode & (S_ISUID | S_ISGID)) && fstat(fd, &st) == 0 &&
	    chmod(uf_proc_fd(path, fd), (st.st_mode & 07777) | (mode & (S_ISUID | S_ISGID))) < 0)
		return -errno;
	return uf_take_fd(&fd);
}

static void run_tmpfile(struct uf_job *j)
{
	struct uf_fs *fs = uf_fs_from_req(j->req);
	struct uf_inode *dir = uf_inode_from_id(fs, j->ino);
	struct fuse_file_info *fi = &j->fi;
	struct stat st;
	int r;

	if (!fs->upper) {
		fuse_reply_err(j->req, EROFS);
		return;
	}
	r = uf_copyup(fs, dir, 0);
	if (r < 0) {
		fuse_reply_err(j->req, -r);
		return;
	}
	/* Read-write (the writeback cache reads pages it writes), and only
	 * the flags that matter for I/O. */
	int flags = (fi->flags & (O_APPEND | O_SYNC | O_DSYNC | O_NOATIME)) | O_RDWR;
	if (fs->writeback)
		flags &= ~O_APPEND; /* the kernel appends itself */
	_cleanup_close_ int fd = make_tmpfile(fs, j->req, uf_inode_upper(dir), j->mode, flags);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fuse_reply_err(j->req, fd < 0 ? -fd : errno);
		return;
	}
	struct uf_key key = { st.st_dev, st.st_ino };
	uf_origin_remove(fs, &key); /* an old record for a reused ino */
	/* Published under the directory with a name no lookup can give (it
	 * has a '/'): it is reached only through its pin. */
	struct uf_inode *ino =
	    uf_inode_publish(fs, dir, "/tmpfile", uf_inode_alloc(&key, st.st_mode, "/tmpfile"));
	r = uf_inode_pin_unnamed(fs, ino, fd);
	if (r < 0) {
		uf_inode_forget(fs, ino, 1);
		fuse_reply_err(j->req, -r);
		return;
	}
	uf_stat_fixup(fs, ino, &st);
	struct uf_file *f = uf_file_new(fs, uf_take_fd(&fd), false);
	fi->keep_cache = 1;
	uf_passthrough_open(fs, ino, atomic_load(&f->fd), flags, fi, f);
	fi->fh = (uintptr_t)f;
	uf_inode_open_pin(fs, ino);
	struct fuse_entry_param e = {
		.ino = uf_inode_id(fs, ino),
		.attr = st,
		.attr_timeout = uf_attr_timeout(fs, ino),
		.entry_timeout = 0, /* no name to cache */
	};
	if (fuse_reply_create(j->req, &e, fi) < 0) {
		uf_inode_open_unpin(fs, ino);
		uf_passthrough_release(fs, ino, f);
		uf_file_free(fs, f);
		uf_inode_forget(fs, ino, 1);
	}
}

/* Always on the pool: the directory's copy-up may wait for its lock. */
void uf_ll_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi)
{
	if (uf_fs_from_req(req)->tmpfile_off) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	struct uf_job *j = uf_job_new(run_tmpfile, req);

	j->ino = parent;
	j->mode = (int)mode;
	j->fi = *fi;
	uf_job_submit(uf_fs_from_req(req), j);
}

#endif
