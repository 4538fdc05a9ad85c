/* Where the data of a metadata-only file is. The kernel's rule (namei.c
 * ovl_lookup(), checked against Linux 6.18): below a file marked
 * overlay.metacopy the lookup goes on, by the same name, or by the file's
 * own overlay.redirect (relative: another name in the same directory;
 * absolute: a path from the branches' roots), through further metacopy
 * files, to the first plain regular file. When a metacopy file with an
 * absolute redirect is left after the last plain lower, the data-only
 * branches are searched for that path, in order. A metacopy file in a lower
 * above the bottom plain one needs metacopy=on (else EPERM); one in the
 * bottom plain lower is followed into the data-only branches always, as the
 * kernel does. The
 * values come from branches that users may write: each redirect goes
 * through uf_redirect_parse() and each path is walked with openat2()
 * beneath the branch root, no symlinks, no other mount; the data must be a
 * regular file, and its (dev, ino) is what uf_inode_locate() checks later. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "unionfuse/metacopy.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

int uf_metacopy_is(const struct uf_fs *fs, int dirfd, const char *name, const struct stat *st)
{
	/* A metacopy file's only blocks are its xattrs' (ext4 puts a long
	 * redirect in a block of its own, counted in st_blocks): so only a
	 * file with holes or of at most a block can be one. */
	if (!S_ISREG(st->st_mode) || st->st_size == 0 ||
	    (st->st_blocks * 512 >= st->st_size && st->st_blocks * 512 > 4096))
		return 0;
	g_autofree char *path = g_strdup_printf("/proc/self/fd/%d/%s", dirfd, name);
	return uf_file_get_metacopy(fs, path);
}

int uf_metacopy_open_beneath(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve =
		    RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* The object that lookup key @key ("/abs/path", or a name in the parent's
 * layer @dirfd) shows in branch @b: 0 with *st filled and ret_fd an O_PATH
 * fd on it, -ENOENT when there is nothing (go on below), or -errno. */
static int find_in(struct uf_fs *fs, unsigned b, int dirfd, const char *key, struct stat *st,
		   int *ret_fd)
{
	int fd = key[0] == '/' ? uf_metacopy_open_beneath(fs->branches[b].fd, key + 1)
		 : dirfd >= 0  ? uf_neg_errno(openat(dirfd, key, O_PATH | O_NOFOLLOW | O_CLOEXEC))
			       : -ENOENT;

	/* A path through a non-dir is not there, as for the kernel's walk. */
	if (fd == -ENOTDIR)
		fd = -ENOENT;
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Is regular file @fd (O_PATH) a metacopy file, and if so apply its
 * redirect to lookup key *@key. Returns 1, 0 or -errno (an invalid value:
 * -EIO, as the kernel's lookup). */
static int follow(struct uf_fs *fs, int fd, const char *name, char **key)
{
	char path[UF_PROC_FD_MAX];
	g_autofree char *rd = NULL;

	/* xattrs are read through a real open: not through an O_PATH fd. */
	uf_proc_fd(path, fd);
	_cleanup_close_ int rfd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	/* Unreadable to a daemon that is not root: its user.* xattrs are
	 * too, and the kernel then takes it for no metacopy file. */
	if (rfd < 0)
		return errno == EACCES ? 0 : -errno;
	int r = uf_fd_get_metacopy(fs, rfd);
	if (r <= 0)
		return r;
	r = uf_file_get_redirect(fs, rfd, &rd);
	if (r < 0) {
		uf_log_limited(LOG_WARNING, "invalid overlay.redirect on metacopy file '%s': %s",
			       name, g_strerror(-r));
		return r == -ENOMEM ? r : -EIO;
	}
	if (rd) {
		g_free(*key);
		*key = g_steal_pointer(&rd);
	}
	return 1;
}

static int found_data(struct uf_inode *cand, unsigned b, const struct stat *st, const char *key,
		      const char *name)
{
	atomic_store(&cand->data_branch, b);
	cand->data_real = (struct uf_key){ st->st_dev, st->st_ino };
	g_free(cand->data_path);
	cand->data_path = strcmp(key, name) != 0 ? g_strdup(key) : NULL;
	return 0;
}

int uf_metacopy_find_data(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			  const char *name, struct uf_inode *cand)
{
	unsigned top = L->v[found].branch;
	bool from_upper = fs->upper && top == 0;
	g_autofree char *key = g_strdup(name);
	struct stat st;
	int fd = -1, r;

	/* The upper's metacopy files are followed as before (ours, made by
	 * -o metacopy=on). A lower's needs metacopy=on unless it is in the
	 * bottom plain branch, whatever is found below: Linux 6.18 checks the
	 * branch, not what the lookup finds. */
	if (!from_upper && !fs->metacopy && top != fs->n_branches - 1) {
		uf_log_limited(LOG_WARNING,
			       "refusing to follow metacopy origin for '%s' (metacopy=off)", name);
		return -EPERM;
	}
	r = uf_neg_errno(openat(L->v[found].fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
	if (r < 0)
		return r == -ENOENT ? -EAGAIN : r; /* gone since its stat: look again */
	fd = r;
	r = follow(fs, fd, name, &key);
	uf_closep(&fd);
	if (r < 0)
		return r;
	if (r == 0)
		return -EAGAIN; /* no longer a metacopy file: look again */
	/* The plain branches below, by name in the parent's layers or by an
	 * absolute path from each branch's root. */
	unsigned i = found + 1;
	for (unsigned b = top + 1; b < fs->n_branches; b++) {
		int dirfd = -1;
		while (i < L->n && L->v[i].branch < b)
			i++;
		if (i < L->n && L->v[i].branch == b)
			dirfd = L->v[i].fd;
		r = find_in(fs, b, dirfd, key, &st, &fd);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			goto nodata;
		if (!S_ISREG(st.st_mode)) {
			uf_closep(&fd);
			goto nodata; /* a whiteout, dir or other type ends it */
		}
		g_autofree char *at = g_strdup(key);
		r = follow(fs, fd, name, &key);
		uf_closep(&fd);
		if (r == 0)
			return found_data(cand, b, &st, at, name);
		if (r < 0)
			return r;
	}
	/* The data-only branches: reached only by an absolute redirect. */
	for (unsigned b = fs->n_branches; key[0] == '/' && b < fs->n_branches + fs->n_data; b++) {
		r = find_in(fs, b, -1, key, &st, &fd);
		if (r == -ENOENT)
			continue;
		if (r == 0)
			uf_closep(&fd);
		if (r < 0 || !S_ISREG(st.st_mode))
			break;
		return found_data(cand, b, &st, key, name);
	}
nodata:;
	/* As the kernel: never show the hole as the file's data. One call
	 * site: the rate limit is per site. (The ';' makes the label a
	 * statement: C11 has no declaration right after a label.) */
	bool moved = strcmp(key, name) != 0;
	uf_log_limited(LOG_WARNING, "metacopy '%s' with no lower data%s%s%s: EIO", name,
		       moved ? " at '" : "", moved ? key : "", moved ? "'" : "");
	return -EIO;
}
