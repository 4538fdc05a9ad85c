/* open/create/read/write and the other calls on open files. Data moves with
 * splice where the kernel allows (fuse_reply_data and fuse_buf_copy on fd
 * buffers), never through a per-request copy of our own. */
#include <fcntl.h>
#include <string.h>

#include "unionfuse/copyup.h"
#include "unionfuse/dir.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/modes.h"
#include "unionfuse/ops.h"
#include "unionfuse/passthrough.h"
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

struct uf_file *uf_file_new(struct uf_fs *fs, int fd, bool lower)
{
	struct uf_file *f = g_new0(struct uf_file, 1);

	g_mutex_init(&f->lock);
	atomic_init(&f->fd, fd);
	atomic_init(&f->lower, lower);
	f->old_fd = -1;
	g_mutex_lock(&fs->files_lock);
	g_hash_table_add(fs->files, f);
	g_mutex_unlock(&fs->files_lock);
	atomic_fetch_add(&fs->open_handles, 1); /* idle.c */
	return f;
}

static void file_destroy(struct uf_file *f)
{
	close(atomic_load(&f->fd));
	if (f->old_fd >= 0)
		close(f->old_fd);
	g_mutex_clear(&f->lock);
	g_free(f);
}

void uf_file_free(struct uf_fs *fs, struct uf_file *f)
{
	g_mutex_lock(&fs->files_lock);
	g_hash_table_remove(fs->files, f);
	g_mutex_unlock(&fs->files_lock);
	file_destroy(f);
	atomic_fetch_sub(&fs->open_handles, 1);
}

void uf_files_free(struct uf_fs *fs)
{
	GHashTableIter it;
	gpointer f;

	g_hash_table_iter_init(&it, fs->files);
	while (g_hash_table_iter_next(&it, &f, NULL)) {
		g_hash_table_iter_remove(&it);
		file_destroy(f);
	}
}

static struct uf_file *file_of(struct fuse_file_info *fi)
{
	return (struct uf_file *)(uintptr_t)fi->fh;
}

void uf_reply_entry(fuse_req_t req, struct uf_fs *fs, struct uf_inode *ino, const struct stat *st)
{
	struct fuse_entry_param e = {
		.ino = uf_inode_id(fs, ino),
		.attr = *st,
		.attr_timeout = uf_attr_timeout(fs, ino),
		.entry_timeout = fs->timeout,
	};
	fuse_reply_entry(req, &e);
}

/* The fd to read from: switch a lower handle to the upper after copy-up. */
static int read_fd(struct uf_fs *fs, struct uf_inode *ino, struct uf_file *f)
{
	int fd = atomic_load(&f->fd);

	if (!f->lower || !uf_inode_data_in_upper(fs, ino))
		return fd;
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&f->lock);
	if (!f->lower)
		return atomic_load(&f->fd);
	int nfd = uf_inode_open(fs, ino, O_RDONLY);
	if (nfd < 0)
		return fd; /* keep serving the old data rather than failing */
	f->old_fd = atomic_exchange(&f->fd, nfd);
	atomic_store(&f->lower, false);
	return nfd;
}

static int open_flags(struct uf_fs *fs, int flags)
{
	/* The kernel resolved the name: O_NOFOLLOW would trip on the proc link. */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	/* With the writeback cache the kernel may read a page it writes to,
	 * and it handles O_APPEND itself. */
	if (fs->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

/* Answer the open, or return -EWOULDBLOCK having changed nothing. */
static int do_open(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	int flags = open_flags(fs, fi->flags);
	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);

	if (writing) {
		int r = uf_copyup(fs, ino, (flags & O_TRUNC) ? UF_COPYUP_NODATA : 0);
		if (r == -EWOULDBLOCK)
			return r;
		if (r < 0) {
			fuse_reply_err(req, -r);
			return 0;
		}
	}
	bool lower = !uf_inode_data_in_upper(fs, ino);
	int fd = uf_inode_open_data(fs, ino, flags);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return 0;
	}
	/* With atomic_o_trunc the kernel sends no setattr after the open
	 * that would drop setuid/setgid: as a truncate, by the caller. */
	if ((flags & O_TRUNC) && S_ISREG(ino->type)) {
		int r = uf_killpriv_fd(fs, req, fd);
		if (r < 0) {
			close(fd);
			fuse_reply_err(req, -r);
			return 0;
		}
	}
	struct uf_file *f = uf_file_new(fs, fd, lower);
	fi->keep_cache = 1; /* auto_inval_data drops it when mtime/size change */
	int r = uf_passthrough_open(fs, ino, fd, flags, fi, f);
	if (r < 0) {
		uf_file_free(fs, f);
		fuse_reply_err(req, -r);
		return 0;
	}
	fi->fh = (uintptr_t)f;
	uf_inode_open_pin(fs, ino);
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	if (fuse_reply_open(req, fi) < 0 && f->pt) {
		/* Interrupted: the kernel has no such file, so no release. */
		uf_passthrough_release(fs, ino, f);
		f->pt = 0;
	}
	return 0;
}

static void run_open(struct uf_job *j)
{
	do_open(j->req, j->ino, &j->fi);
}

void uf_ll_open(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;

	bool long_job = writing && !(fi->flags & O_TRUNC) &&
			uf_copyup_copies_data(fs, uf_inode_from_id(fs, id));
	if (long_job || do_open(req, id, fi) == -EWOULDBLOCK) {
		struct uf_job *j = uf_job_new(run_open, req);
		j->ino = id;
		j->fi = *fi;
		uf_job_submit(fs, j);
	}
}

void uf_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *dir = uf_inode_from_id(fs, parent);
	struct uf_inode *ino;
	struct stat st;
	int fd;

	int r = uf_dir_create(fs, req, dir, name, S_IFREG | (mode & 07777), 0, NULL,
			      open_flags(fs, fi->flags), &fd, &ino, &st);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct uf_file *nf = uf_file_new(fs, fd, false);
	fi->keep_cache = 1;
	r = uf_passthrough_open(fs, ino, fd, open_flags(fs, fi->flags), fi, nf);
	if (r < 0) {
		uf_file_free(fs, nf);
		uf_inode_forget(fs, ino, 1);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)nf;
	uf_inode_open_pin(fs, ino);
	struct fuse_entry_param e = {
		.ino = uf_inode_id(fs, ino),
		.attr = st,
		.attr_timeout = uf_attr_timeout(fs, ino),
		.entry_timeout = fs->timeout,
	};
	if (fuse_reply_create(req, &e, fi) < 0) {
		/* The request was interrupted: undo what the kernel won't. */
		uf_inode_open_unpin(fs, ino);
		uf_passthrough_release(fs, ino, nf);
		uf_file_free(fs, nf);
		uf_inode_forget(fs, ino, 1);
	}
}

void uf_ll_read(fuse_req_t req, fuse_ino_t id, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = read_fd(fs, uf_inode_from_id(fs, id), file_of(fi));
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void uf_ll_write_buf(fuse_req_t req, fuse_ino_t id, struct fuse_bufvec *in, off_t off,
		     struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = atomic_load(&file_of(fi)->fd);
	out.buf[0].pos = off;
	ssize_t n = uf_killpriv_write(fs, req, uf_inode_from_id(fs, id), out.buf[0].fd, fi);
	if (n == 0)
		n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void uf_ll_release(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_file *f = file_of(fi);

	uf_inode_open_unpin(fs, uf_inode_from_id(fs, id));
	uf_passthrough_release(fs, uf_inode_from_id(fs, id), f);
	uf_file_free(fs, f);
	fuse_reply_err(req, 0);
}

static void run_fsync(struct uf_job *j)
{
	int fd = atomic_load(&file_of(&j->fi)->fd);

	fuse_reply_err(j->req, -uf_neg_errno(j->flags ? fdatasync(fd) : fsync(fd)));
}

void uf_ll_fsync(fuse_req_t req, fuse_ino_t id, int datasync, struct fuse_file_info *fi)
{
	if (uf_fs_from_req(req)->volatile_upper) {
		fuse_reply_err(req, 0); /* as the kernel's volatile mount */
		return;
	}
	struct uf_job *j = uf_job_new(run_fsync, req);

	j->ino = id;
	j->fi = *fi;
	j->flags = datasync;
	uf_job_submit(uf_fs_from_req(req), j);
}

static void run_fallocate(struct uf_job *j)
{
	int fd = atomic_load(&file_of(&j->fi)->fd);

	fuse_reply_err(j->req, -uf_neg_errno(fallocate(fd, j->mode, j->off, j->len)));
}

void uf_ll_fallocate(fuse_req_t req, fuse_ino_t id, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi)
{
	struct uf_job *j = uf_job_new(run_fallocate, req);

	j->ino = id;
	j->fi = *fi;
	j->mode = mode;
	j->off = offset;
	j->len = length;
	uf_job_submit(uf_fs_from_req(req), j);
}

void uf_ll_lseek(fuse_req_t req, fuse_ino_t id, off_t off, int whence, struct fuse_file_info *fi)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	off_t r = lseek(read_fd(fs, uf_inode_from_id(fs, id), file_of(fi)), off, whence);

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

static void run_copy_file_range(struct uf_job *j)
{
	struct uf_fs *fs = uf_fs_from_req(j->req);
	struct uf_file *in = (struct uf_file *)(uintptr_t)j->fi.fh;
	struct uf_file *out = (struct uf_file *)(uintptr_t)j->fh2;
	int ifd = read_fd(fs, uf_inode_from_id(fs, j->ino), in);

	ssize_t n =
	    copy_file_range(ifd, &j->off, atomic_load(&out->fd), &j->off2, j->size, j->flags);
	if (n < 0)
		fuse_reply_err(j->req, errno);
	else
		fuse_reply_write(j->req, (size_t)n);
}

void uf_ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			   struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct uf_job *j = uf_job_new(run_copy_file_range, req);

	(void)ino_out;
	j->ino = ino_in;
	j->fi.fh = fi_in->fh;
	j->fh2 = fi_out->fh;
	j->off = off_in;
	j->off2 = off_out;
	j->size = len;
	j->flags = flags;
	uf_job_submit(uf_fs_from_req(req), j);
}
