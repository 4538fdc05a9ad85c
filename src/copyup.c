/* Copy-up. Regular files are built in an O_TMPFILE in the upper parent (or
 * under a temporary name in the work directory) and published with one
 * linkat(); other objects are made under a temporary name and published with
 * renameat2(RENAME_NOREPLACE). So a daemon killed at any moment leaves either
 * no upper object or the complete one. Data: FICLONE when the upper can
 * reflink, else copy_file_range() of the data segments only (holes stay
 * holes), else a 1 MiB buffer per call (never shared between threads). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "unionfuse/copyup.h"
#include "unionfuse/layer/copy.h"
#include "unionfuse/index.h"
#include "unionfuse/inode.h"
#include "unionfuse/temp.h"
#include "unionfuse/modes.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"
#include "unionfuse/worker.h"
#include "unionfuse/xattr.h"

/* Metadata in an order that keeps it: owner before mode (chown clears
 * setuid), xattrs after chown (it clears security.capability), times last. */
static int copy_meta_fd(const struct uf_fs *fs, int src, int dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchown(dst, st->st_uid, st->st_gid) < 0)
		return -errno;
	if (fchmod(dst, st->st_mode & 07777) < 0)
		return -errno;
	int r = uf_copy_xattrs(fs, &(struct uf_xobj){ .fd = src }, &(struct uf_xobj){ .fd = dst });
	if (r < 0)
		return r;
	return uf_neg_errno(futimens(dst, ts));
}

/* Record on the copy at @path (followed: a /proc/self/fd path) what it is a
 * copy of, as the kernel's ovl_set_origin(): an upper that cannot take the
 * xattr (on a special file, say) just has no origin. */
static int set_origin(struct uf_fs *fs, const char *path, const uint8_t *origin, int olen)
{
	int r = uf_neg_errno(setxattr(path, fs->xattr_origin, origin, olen, 0));
	return r == -EPERM || r == -EOPNOTSUPP ? 0 : r;
}

/* Build a regular file copy of @src; returns an O_RDWR fd of the unnamed or
 * temporary file, with ret_tmp set when it has a temporary name. A
 * metadata-only copy is a hole of the right size marked overlay.metacopy,
 * as the kernel's metacopy=on makes it. */
static int make_regular(struct uf_fs *fs, int src, int data, const struct stat *st, int pdir,
			unsigned flags, bool meta_only, const uint8_t *origin, int olen, int *ret_dirfd,
			char ret_tmp[static UF_TMP_NAME_MAX])
{
	_cleanup_close_ int dst = -1;
	int r = 0;

	ret_tmp[0] = '\0';
	*ret_dirfd = pdir;
	dst = openat(pdir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (dst < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		*ret_dirfd = fs->work_fd >= 0 ? fs->work_fd : pdir;
		uf_tmp_name(ret_tmp);
		dst = openat(*ret_dirfd, ret_tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (dst < 0)
			return -errno;
	}
	if (meta_only)
		r = uf_neg_errno(ftruncate(dst, st->st_size));
	else if (!(flags & UF_COPYUP_NODATA))
		r = uf_layer_copy_data(data, dst, st->st_size, uf_worker_interrupted);
	if (r == 0)
		r = copy_meta_fd(fs, src, dst, st);
	if (r == 0 && meta_only)
		r = uf_neg_errno(fsetxattr(dst, fs->xattr_metacopy, "", 0, 0));
	if (r == 0 && olen > 0)
		r = set_origin(fs, uf_proc_fd((char[UF_PROC_FD_MAX]){ 0 }, dst), origin, olen);
	/* Durable before it is published, as the kernel does unless mounted
	 * volatile: after a power loss the name shows the whole copy or none. */
	if (r == 0 && !fs->volatile_upper)
		r = uf_neg_errno(fsync(dst));
	if (r < 0)
		goto fail;
	return uf_take_fd(&dst);
fail:
	if (ret_tmp[0])
		unlinkat(*ret_dirfd, ret_tmp, 0);
	return r;
}

/* Put the copy @ust (unnamed file @fd, or @tmp in @tmpdir) in place as
 * @name in @pdir. The copy's identity is recorded first: a lookup that
 * finds it the moment it appears must map it to @ino, not make a second
 * inode for the same object. A broken-off hard link keeps none (the kernel
 * gives it a new st_ino too). */
static int publish(struct uf_fs *fs, struct uf_inode *ino, const struct stat *ust, int fd,
		   int tmpdir, const char *tmp, int pdir, const char *name)
{
	struct uf_key ukey = { ust->st_dev, ust->st_ino };
	char path[UF_PROC_FD_MAX];
	int r;

	if (!ino->unshared)
		uf_origin_add(fs, &ukey, &ino->key);
	if (tmp[0]) {
		r = uf_neg_errno(renameat2(tmpdir, tmp, pdir, name, RENAME_NOREPLACE));
		if (r < 0)
			unlinkat(tmpdir, tmp, S_ISDIR(ust->st_mode) ? AT_REMOVEDIR : 0);
	} else {
		r = uf_neg_errno(
		    linkat(AT_FDCWD, uf_proc_fd(path, fd), pdir, name, AT_SYMLINK_FOLLOW));
	}
	if (r < 0 && !ino->unshared)
		uf_origin_remove(fs, &ukey);
	return r;
}

/* Is @st an object we just made as @type? The temporary name may be in the
 * upper parent itself, which its owner can change behind our back: never
 * chown, chmod or label what she put there instead. */
static bool is_ours(const struct stat *st, mode_t type)
{
	return (st->st_mode & S_IFMT) == (type & S_IFMT) && st->st_uid == geteuid() &&
	       (S_ISDIR(type) || st->st_nlink == 1);
}

/* Make a copy of non-regular @st (whose xattrs @src reaches, and @srcfd, an
 * O_PATH fd of it unless it is a dir) under temporary name @tmp in @tmpdir,
 * with its metadata. Every change after the creation goes through an fd of
 * the new object. Fills @ret_st with the copy's attributes. */
static int make_other(struct uf_fs *fs, int srcfd, const struct uf_xobj *src,
		      const struct stat *st, const uint8_t *origin, int olen, int tmpdir,
		      const char *tmp, struct stat *ret_st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	_cleanup_close_ int fd = -1;
	char path[UF_PROC_FD_MAX];
	int r;

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		r = uf_neg_errno(mkdirat(tmpdir, tmp, 0700));
		break;
	case S_IFLNK: {
		g_autofree char *target = g_malloc(st->st_size + 1);
		ssize_t n = readlinkat(srcfd, "", target, st->st_size + 1);
		if (n < 0)
			return -errno;
		if (n > st->st_size)
			return -EIO; /* changed under us */
		target[n] = '\0';
		r = uf_neg_errno(symlinkat(target, tmpdir, tmp));
		break;
	}
	default:
		r = uf_neg_errno(mknodat(tmpdir, tmp, st->st_mode & S_IFMT, st->st_rdev));
		break;
	}
	if (r < 0)
		return r;

	fd = openat(tmpdir, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	r = fd < 0 ? -errno : uf_neg_errno(fstat(fd, ret_st));
	if (r == 0 && !is_ours(ret_st, st->st_mode)) {
		uf_log_limited(LOG_WARNING, "copy-up temporary '%s' was replaced: giving up", tmp);
		return -EIO; /* not ours: leave it alone, name and all */
	}
	uf_proc_fd(path, fd);
	if (r == 0)
		r = uf_neg_errno(fchownat(fd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH));
	if (r == 0 && !S_ISLNK(st->st_mode))
		r = uf_neg_errno(fchmodat(AT_FDCWD, path, st->st_mode & 07777, 0));
	if (r == 0)
		r = uf_copy_xattrs(fs, src,
				   &(struct uf_xobj){ .fd = -1, .path = path, .follow = true });
	if (r == 0 && olen > 0)
		r = set_origin(fs, path, origin, olen);
	if (r == 0)
		r = uf_neg_errno(utimensat(fd, "", ts, AT_EMPTY_PATH));
	if (r == 0)
		r = uf_neg_errno(fstat(fd, ret_st));
	if (r == 0)
		return 0;
	unlinkat(tmpdir, tmp, S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0);
	return r;
}

/* Copy one object whose parent already has an upper. The source is reached
 * through an fd whose identity is checked (inode.h: uf_located), never by a
 * name that may have changed since the lookup. Caller holds ino->lock. */
static int copyup_one(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *parent,
		      const char *name, unsigned flags)
{
	int pdir = uf_inode_upper(parent);
	bool is_dir = S_ISDIR(ino->type);
	struct uf_located src = { .fd = -1 };
	struct stat st, ust, pst;
	char tmp[UF_TMP_NAME_MAX] = "";
	uint8_t origin[UF_ORIGIN_MAX];
	int tmpdir = -1, nlink_diff = 0;
	int r;

	/* A dir holds an fd of its lower; others are located and checked. */
	r = is_dir ? uf_neg_errno(fstat(ino->lower[0].fd, &st))
		   : uf_inode_locate(fs, ino, UF_TOP, &src);
	if (r == 0 && !is_dir)
		r = uf_neg_errno(fstat(src.fd, &st));
	if (r < 0)
		goto out;
	/* No copy with an owner we cannot map, nor with privileges that were
	 * inert where the original is (modes.c). */
	bool drop_caps;
	r = uf_copyup_mode_for(fs, is_dir ? ino->lower[0].fd : src.fd, &st, &drop_caps);
	if (r < 0)
		goto out;

	unsigned lower_branch = atomic_load(&ino->branch);
	/* A lower metacopy file's data is elsewhere (metacopy.c): the copy
	 * takes it from there and is a whole file. */
	bool elsewhere = uf_inode_data_elsewhere(ino);
	int olen = is_dir ? uf_origin_get(fs, ino->lower[0].fd, ino->lower[0].branch, origin)
			  : uf_origin_get(fs, src.fd, lower_branch, origin);
	/* index=on: a lower hard link goes through WORKDIR/index (index.c),
	 * whole: its other names share the copy. */
	bool indexing = olen > 0 && uf_index_wanted(fs, &st);
	bool meta_only = S_ISREG(st.st_mode) && (flags & UF_COPYUP_META) && fs->metacopy &&
			 !ino->unshared && !indexing && st.st_size >= UF_METACOPY_MIN && !elsewhere;
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int meta = uf_loc_open(&src, O_RDONLY);
		_cleanup_close_ int data =
		    meta < 0 || !elsewhere ? -1 : uf_inode_open_data(fs, ino, O_RDONLY);
		if (meta < 0 || (elsewhere && data < 0)) {
			r = meta < 0 ? meta : data;
			goto out;
		}
		/* Another name of it was copied up already: only linked. */
		bool linked = indexing && uf_index_has(fs, origin, olen);
		_cleanup_close_ int fd =
		    linked ? -1
			   : make_regular(fs, meta, elsewhere ? data : meta, &st, pdir, flags,
					  meta_only, origin, olen, &tmpdir, tmp);
		r = linked ? 0 : fd < 0 ? fd : uf_neg_errno(fstat(fd, &ust));
		if (r == 0 && !linked && drop_caps && fremovexattr(fd, "security.capability") < 0 &&
		    errno != ENODATA && errno != ENOTSUP)
			r = -errno;
		if (r < 0)
			goto out;
		/* The parent's lock makes "keep its times" atomic with respect
		 * to the changes users make in it (dir.c takes it too). */
		g_mutex_lock(&parent->lock);
		r = uf_neg_errno(fstat(pdir, &pst));
		if (r == 0 && indexing)
			r = uf_index_publish(fs, ino, fd, tmpdir, tmp, pdir, name, origin, olen,
					     st.st_nlink, &ust, &nlink_diff);
		else if (r == 0)
			r = publish(fs, ino, &ust, fd, tmpdir, tmp, pdir, name);
	} else {
		struct uf_xobj xsrc = is_dir ? (struct uf_xobj){ .fd = ino->lower[0].fd }
					     : (struct uf_xobj){ .fd = -1, .path = src.path,
								 .follow = true };
		tmpdir = fs->work_fd >= 0 ? fs->work_fd : pdir;
		uf_tmp_name(tmp);
		g_mutex_lock(&parent->lock);
		r = uf_neg_errno(fstat(pdir, &pst));
		if (r == 0)
			r = make_other(fs, src.fd, &xsrc, &st, origin, olen, tmpdir, tmp, &ust);
		if (r == 0)
			r = publish(fs, ino, &ust, -1, tmpdir, tmp, pdir, name);
	}
	/* As the kernel: the parent now holds a copy with an origin. */
	if (r == 0 && olen > 0)
		uf_set_impure(fs, pdir);
	/* Copy-up is no change the user made: the parent keeps its times. */
	if (r == 0)
		futimens(pdir, (struct timespec[2]){ pst.st_atim, pst.st_mtim });
	g_mutex_unlock(&parent->lock);
	if (r < 0)
		goto out;

	struct uf_key ukey = { ust.st_dev, ust.st_ino };
	if (is_dir) {
		struct stat dst;
		int fd = openat(pdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &dst) < 0 || !uf_same_object(&dst, &ukey, S_IFDIR)) {
			r = fd < 0 ? -errno : -ESTALE; /* swapped the moment it appeared */
			uf_closep(&fd);
			goto out;
		}
		uf_inode_set_upper(ino, fd);
	} else {
		if (indexing) {
			/* Before it is in the upper: stat reads these then. */
			ino->indexed = true;
			atomic_store(&ino->nlink_diff, nlink_diff);
		}
		uf_inode_set_in_upper(fs, ino, &ukey, meta_only ? lower_branch : 0);
		uf_inode_repin(fs, ino);
		/* Its other names reach it by no name of their own. */
		if (indexing)
			uf_inode_keep_pin(fs, ino, false);
	}
	if (ino->unshared)
		uf_inode_adopt_upper(fs, ino, &ukey);
	uf_debug("copy-up '%s' (mode %#o) from branch %u: %s, %lld bytes", name, st.st_mode,
		 is_dir ? ino->lower[0].branch : lower_branch,
		 meta_only ? "metadata only" : "whole",
		 S_ISREG(st.st_mode) && !meta_only ? (long long)st.st_size : 0LL);
out:
	uf_located_done(&src);
	return r;
}

bool uf_copyup_copies_data(const struct uf_fs *fs, struct uf_inode *ino)
{
	return fs->upper && S_ISREG(ino->type) && !uf_inode_data_in_upper(fs, ino);
}

/* A data copy into metadata-only copy @fd (whose attributes were @st)
 * failed: make it the hole it was again, so that what was copied neither
 * stays in the upper nor keeps taking its space (ENOSPC is the usual
 * failure). The mark is still there: reads still go below. */
static void unfill(int fd, const struct stat *st)
{
	if (ftruncate(fd, 0) == 0 && ftruncate(fd, st->st_size) == 0)
		futimens(fd, (struct timespec[2]){ st->st_atim, st->st_mtim });
}

/* Complete a metadata-only copy: copy the data into the upper file in place,
 * then drop overlay.metacopy. Until that last step the data is read from the
 * lower, so a crash in between leaves the file as it was. Caller holds
 * ino->lock. */
static int copyup_data(struct uf_fs *fs, struct uf_inode *ino, unsigned flags)
{
	_cleanup_close_ int dst = uf_inode_open(fs, ino, O_WRONLY);
	struct stat st, ust = { 0 };
	int r;

	if (dst < 0)
		return dst;
	if (!(flags & UF_COPYUP_NODATA)) {
		_cleanup_close_ int src = uf_inode_open_data(fs, ino, O_RDONLY);
		r = src < 0 ? src : uf_neg_errno(fstat(src, &st));
		if (r == 0)
			r = uf_neg_errno(fstat(dst, &ust));
		if (r == 0)
			r = uf_layer_copy_data(src, dst, st.st_size, uf_worker_interrupted);
		/* Filling in the data is no change of the file's: keep its times. */
		if (r == 0)
			r = uf_neg_errno(
			    futimens(dst, (struct timespec[2]){ ust.st_atim, ust.st_mtim }));
		/* The data is on disk before the mark that sends reads below goes. */
		if (r == 0 && !fs->volatile_upper)
			r = uf_neg_errno(fdatasync(dst));
		if (r < 0) {
			if (ust.st_size > 0)
				unfill(dst, &ust);
			return r;
		}
	}
	r = uf_neg_errno(fremovexattr(dst, fs->xattr_metacopy));
	if (r == 0)
		uf_inode_set_in_upper(fs, ino, &(struct uf_key){ ust.st_dev, ust.st_ino }, 0);
	uf_debug("copy-up: data of metadata-only copy (origin ino %llu) %s: %d",
		 (unsigned long long)ino->key.ino,
		 (flags & UF_COPYUP_NODATA) ? "dropped (truncated)" : "copied", r);
	return r;
}

int uf_copyup(struct uf_fs *fs, struct uf_inode *ino, unsigned flags)
{
	struct uf_inode *parent = NULL;
	g_autofree char *name = NULL;
	bool meta_ok = (flags & UF_COPYUP_META) && fs->metacopy;
	int r;

	if (!fs->upper)
		return -EROFS;
	if (uf_inode_in_upper(fs, ino) && (meta_ok || !uf_copyup_copies_data(fs, ino)))
		return 0;
	/* With no name there is no place for a copy (an fd kept open after
	 * unlink of a lower file). */
	if (uf_inode_is_unlinked(fs, ino))
		return -ESTALE;
	r = uf_inode_get_parent(fs, ino, &parent, &name);
	if (UF_WARN_ON(r < 0))
		return -EIO; /* only the root has no parent, and it is upper */
	r = uf_copyup(fs, parent, 0);
	if (r == 0)
		r = uf_inode_trylock(ino); /* busy: the caller retries on the pool */
	if (r == 0) {
		if (!uf_inode_in_upper(fs, ino))
			r = copyup_one(fs, ino, parent, name, flags);
		if (r == 0 && !meta_ok && uf_copyup_copies_data(fs, ino))
			r = copyup_data(fs, ino, flags);
		g_mutex_unlock(&ino->lock);
	}
	uf_inode_unref(fs, parent);
	return r;
}
