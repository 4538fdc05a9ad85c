/* Copies of real objects between branches (copy.h): data with holes, and
 * owner, mode, xattrs and times in the order that keeps each of them. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "unionfuse/layer/copy.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/util.h"

#define COPY_CHUNK (1 << 20)
#define COPY_DEPTH_MAX 512

static int copy_range(int src, int dst, off_t in, off_t end, bool (*stop)(void))
{
	g_autofree char *buf = NULL;
	off_t out = in;

	while (in < end) {
		size_t want = MIN((off_t)COPY_CHUNK * 16, end - in);
		if (stop && stop())
			return -EINTR;
		if (!buf) {
			ssize_t n = copy_file_range(src, &in, dst, &out, want, 0);
			if (n > 0)
				continue;
			if (n == 0)
				return -EIO; /* the file shrank under us */
			if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			    errno != EOPNOTSUPP)
				return -errno;
			buf = g_malloc(COPY_CHUNK);
		}
		ssize_t n = pread(src, buf, MIN(want, COPY_CHUNK), in);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(dst, buf + done, n - done, out + done);
			if (w < 0)
				return -errno;
			done += w;
		}
		in += n;
		out += n;
	}
	return 0;
}

int uf_layer_copy_data(int src, int dst, off_t size, bool (*stop)(void))
{
	off_t pos = 0;

	if (size > 0 && ioctl(dst, FICLONE, src) == 0)
		return 0;
	while (pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			if (errno != EINVAL)
				return -errno;
			data = pos; /* no SEEK_DATA: copy everything */
		}
		off_t hole = lseek(src, data, SEEK_HOLE);
		hole = hole < 0 ? size : MIN(hole, size);
		int r = copy_range(src, dst, data, hole, stop);
		if (r < 0)
			return r;
		pos = hole;
	}
	return uf_neg_errno(ftruncate(dst, size));
}

int uf_layer_copy_owner_mode(int dirfd, const char *name, const struct stat *st)
{
	if (fchownat(dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode))
		return 0;
	/* Not a symlink (checked above by its type): fchmodat may follow. */
	return uf_neg_errno(fchmodat(dirfd, name, st->st_mode & 07777, 0));
}

int uf_layer_copy_times(int dirfd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	return uf_neg_errno(utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW));
}

int uf_layer_fsync_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return uf_neg_errno(fsync(dirfd)); /* its inode goes with the dir */
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return uf_neg_errno(fsync(fd));
}

/* Everything but the data and the times, in the order that keeps it:
 * owner before mode (chown clears setuid), xattrs after chown (which
 * clears security.capability) and after mode (an ACL sets the mode's
 * group bits from its mask). */
static int copy_meta(int sdir, const char *name, int ddir, const char *dname, const struct stat *st,
		     const char *prefix)
{
	g_autofree char *sp = uf_at_path(sdir, name);
	g_autofree char *dp = uf_at_path(ddir, dname);
	int r = uf_layer_copy_owner_mode(ddir, dname, st);

	if (r < 0)
		return r;
	r = uf_layer_copy_xattrs(prefix, &(struct uf_xobj){ .fd = -1, .path = sp },
				 &(struct uf_xobj){ .fd = -1, .path = dp });
	/* A symlink or device takes no user.* xattrs: it has none to copy. */
	return r == -EPERM && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) ? 0 : r;
}

static int make_node(int sdir, const char *name, int data_fd, int ddir, const char *dname,
		     const struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int src = -1;
		if (data_fd < 0) {
			src = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (src < 0)
				return -errno;
			data_fd = src;
		}
		struct stat dst_st;
		if (fstat(data_fd, &dst_st) < 0)
			return -errno;
		_cleanup_close_ int dst =
		    openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dst < 0)
			return -errno;
		int r = uf_layer_copy_data(data_fd, dst, dst_st.st_size, NULL);
		if (r == 0 && src >= 0 && dst_st.st_size != st->st_size)
			r = -EIO; /* changed under us */
		return r;
	}
	if (S_ISLNK(st->st_mode)) {
		g_autofree char *target = g_malloc(st->st_size + 1);
		ssize_t n = readlinkat(sdir, name, target, st->st_size + 1);
		if (n < 0)
			return -errno;
		if (n > st->st_size)
			return -EIO; /* changed under us */
		target[n] = '\0';
		return uf_neg_errno(symlinkat(target, ddir, dname));
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode) ||
	    S_ISSOCK(st->st_mode))
		return uf_neg_errno(
		    mknodat(ddir, dname, (st->st_mode & S_IFMT) | 0600, st->st_rdev));
	return -EINVAL;
}

int uf_layer_copy_node(int sdir, const char *name, int data_fd, int ddir, const char *dname,
		       const char *prefix)
{
	struct stat st;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	int r = make_node(sdir, name, data_fd, ddir, dname, &st);
	if (r == -EEXIST)
		return r; /* not ours to remove */
	if (r == 0)
		r = copy_meta(sdir, name, ddir, dname, &st, prefix);
	if (r == 0)
		r = uf_layer_copy_times(ddir, dname, &st);
	if (r == 0)
		r = uf_layer_fsync_at(ddir, dname);
	if (r < 0)
		unlinkat(ddir, dname, 0);
	return r;
}

struct tree_copy {
	GHashTable *links; /* "dev:ino" of a source with links -> its copy's "/proc" path */
	int depth;
};

static int copy_tree(struct tree_copy *t, int sdir, const char *name, int ddir, const char *dname);

static int copy_dir_entries(struct tree_copy *t, int sfd, int dfd)
{
	int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = copy_tree(t, sfd, de->d_name, dfd, de->d_name);
	closedir(d);
	return r;
}

static int copy_tree(struct tree_copy *t, int sdir, const char *name, int ddir, const char *dname)
{
	struct stat st;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		g_autofree char *key =
		    g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
		const int *first = st.st_nlink > 1 ? g_hash_table_lookup(t->links, key) : NULL;
		if (first) {
			/* Linked from the copy of its first name: one inode again. */
			g_autofree char *from = g_strdup_printf("/proc/self/fd/%d", first[0]);
			int r =
			    uf_neg_errno(linkat(AT_FDCWD, from, ddir, dname, AT_SYMLINK_FOLLOW));
			return r;
		}
		int r = uf_layer_copy_node(sdir, name, -1, ddir, dname, NULL);
		if (r < 0 || st.st_nlink < 2 || S_ISLNK(st.st_mode))
			return r;
		int *fd = g_new(int, 1);
		*fd = openat(ddir, dname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (*fd < 0) {
			g_free(fd);
			return -errno;
		}
		g_hash_table_insert(t->links, g_steal_pointer(&key), fd);
		return 0;
	}
	if (++t->depth > COPY_DEPTH_MAX)
		return -ELOOP;
	_cleanup_close_ int sfd =
	    openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	int r = uf_neg_errno(mkdirat(ddir, dname, 0700));
	if (r < 0)
		return r;
	_cleanup_close_ int dfd =
	    openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = copy_dir_entries(t, sfd, dfd);
	if (r == 0)
		r = copy_meta(sdir, name, ddir, dname, &st, NULL);
	if (r == 0)
		r = uf_layer_copy_times(ddir, dname, &st);
	if (r == 0)
		r = uf_neg_errno(fsync(dfd));
	t->depth--;
	return r;
}

static void close_free(gpointer p)
{
	close(*(int *)p);
	g_free(p);
}

int uf_layer_copy_tree(int sdir, const char *name, int ddir, const char *dname)
{
	struct tree_copy t = {
		.links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, close_free),
	};
	int r = copy_tree(&t, sdir, name, ddir, dname);

	g_hash_table_destroy(t.links);
	if (r == 0)
		r = uf_neg_errno(fsync(ddir));
	return r;
}
