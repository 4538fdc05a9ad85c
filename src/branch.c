/* Opening and checking the branch stack given on the command line. All
 * checks run before anything is created, so bad input changes nothing. */
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "unionfuse/branch.h"
#include "unionfuse/util.h"

static bool path_inside(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return true;
	return strncmp(inner, outer, n) == 0 && (inner[n] == '/' || inner[n] == '\0');
}

static int open_dir(const char *what, const char *path, int access_mode, char **ret_real,
		    int *ret_fd, struct stat *ret_st, char **reterr_msg)
{
	g_autofree char *real = realpath(path, NULL);
	if (!real) {
		*reterr_msg = g_strdup_printf("%s '%s': %s", what, path, g_strerror(errno));
		return -errno;
	}
	int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*reterr_msg = e == ENOTDIR
				  ? g_strdup_printf("%s '%s' is not a directory", what, path)
				  : g_strdup_printf("%s '%s': %s", what, path, g_strerror(e));
		return -e;
	}
	if (faccessat(AT_FDCWD, real, access_mode, AT_EACCESS) < 0) {
		int e = errno;
		close(fd);
		*reterr_msg =
		    g_strdup_printf("%s '%s' is not %s: %s", what, path,
				    access_mode & W_OK ? "writable" : "readable", g_strerror(e));
		return -e;
	}
	fstat(fd, ret_st);
	*ret_fd = fd;
	*ret_real = g_steal_pointer(&real);
	return 0;
}

int uf_branches_open(const struct uf_config *c, struct uf_branch **ret, unsigned *ret_n,
		     char **reterr_msg)
{
	unsigned n = c->branches->len;
	struct uf_branch *b = g_new0(struct uf_branch, n);
	int r = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		const char *path = c->branches->pdata[i];
		bool upper = c->has_upper && i == 0;
		struct stat st;
		struct statfs sfs;

		const char *what = upper ? "upper branch" : "branch";
		if (i >= n - c->n_data)
			what = "data-only branch";
		r = open_dir(what, path,
			     upper ? R_OK | W_OK | X_OK : R_OK | X_OK, &b[i].path, &b[i].fd, &st,
			     reterr_msg);
		if (r < 0)
			goto fail;
		b[i].dev = st.st_dev;
		b[i].ino = st.st_ino;
		b[i].index = i;
		b[i].writable = upper;
		struct statvfs sv;
		b[i].nosuid = fstatvfs(b[i].fd, &sv) == 0 && (sv.f_flag & ST_NOSUID);
		b[i].name_max =
		    fstatfs(b[i].fd, &sfs) == 0 && sfs.f_namelen > 0 ? sfs.f_namelen : 255;
		for (unsigned j = 0; j < i; j++) {
			if (b[j].dev == b[i].dev && b[j].ino == b[i].ino) {
				*reterr_msg = g_strdup_printf("branch '%s' is given twice", path);
				r = -EINVAL;
				i++;
				goto fail;
			}
			if (path_inside(b[i].path, b[j].path) ||
			    path_inside(b[j].path, b[i].path)) {
				bool inner_i = path_inside(b[i].path, b[j].path);
				*reterr_msg = g_strdup_printf(
				    "branch '%s' is inside branch '%s'; branches must not overlap",
				    inner_i ? path : (char *)c->branches->pdata[j],
				    inner_i ? (char *)c->branches->pdata[j] : path);
				r = -EINVAL;
				i++;
				goto fail;
			}
		}
	}
	*ret = b;
	*ret_n = n;
	return 0;
fail:
	uf_branches_free(b, i);
	return r;
}

int uf_check_mountpoint(const char *mnt, const struct uf_branch *b, unsigned n, char **reterr_msg)
{
	struct stat st;
	unsigned fd;
	char end;

	/* mount.fuse3 -o drop_privileges has mounted already and passes the
	 * /dev/fuse fd: there is no directory to check (libfuse takes it). */
	if (sscanf(mnt, "/dev/fd/%u%c", &fd, &end) == 1)
		return 0;
	g_autofree char *real = realpath(mnt, NULL);
	if (!real || stat(real, &st) < 0) {
		*reterr_msg = g_strdup_printf("mount point '%s': %s", mnt, g_strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		*reterr_msg = g_strdup_printf("mount point '%s' is not a directory", mnt);
		return -ENOTDIR;
	}
	for (unsigned i = 0; i < n; i++) {
		if (path_inside(real, b[i].path)) {
			*reterr_msg = g_strdup_printf("mount point '%s' is inside branch '%s'", mnt,
						      b[i].path);
			return -EINVAL;
		}
	}
	return 0;
}

int uf_open_workdir(const char *workdir, const struct uf_branch *b, unsigned n, int *ret_fd,
		    char **ret_path, char **reterr_msg)
{
	g_autofree char *real = NULL;
	struct stat st;
	int fd, r;

	r = open_dir("workdir", workdir, R_OK | W_OK | X_OK, &real, &fd, &st, reterr_msg);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		if (path_inside(real, b[i].path) || path_inside(b[i].path, real)) {
			*reterr_msg = g_strdup_printf("workdir '%s' overlaps branch '%s'", workdir,
						      b[i].path);
			close(fd);
			return -EINVAL;
		}
	}
	if (n > 0 && b[0].writable && st.st_dev != b[0].dev) {
		*reterr_msg = g_strdup_printf(
		    "workdir '%s' is not on the upper branch's filesystem", workdir);
		close(fd);
		return -EXDEV;
	}
	*ret_fd = fd;
	*ret_path = g_steal_pointer(&real);
	return 0;
}

void uf_branches_free(struct uf_branch *b, unsigned n)
{
	if (!b)
		return;
	for (unsigned i = 0; i < n; i++) {
		if (b[i].fd >= 0 && b[i].path)
			close(b[i].fd);
		g_free(b[i].path);
	}
	g_free(b);
}

/* Branches are read through private clones of their mounts, made without the
 * mounts below them (open_tree(OPEN_TREE_CLONE), not AT_RECURSIVE): a lookup
 * then never crosses into another filesystem mounted inside a branch, which
 * is what the kernel overlayfs shows too (the directory underneath), and the
 * union itself can never be reached from inside a branch, even when it is
 * bind-mounted there later (a request thread would wait on its own mount).
 * Needs CAP_SYS_ADMIN; without it the branches are used as opened, and a
 * non-root daemon cannot make those bind mounts either. */
static int clone_dir(int dirfd)
{
	struct mount_attr attr = { .propagation = MS_PRIVATE };
	int tree = (int)syscall(SYS_open_tree, dirfd, "",
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

	if (tree < 0)
		return -errno;
	/* A detached clone gets no propagation today; make sure of it. */
	syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr));
	int fd = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -errno : fd;
	close(tree);
	return r;
}

/* Open @path (relative to @rootfd) without leaving that mount or following a
 * symlink, and check it is still (@dev, @ino). */
static int reopen_beneath(int rootfd, const char *path, dev_t dev, ino_t ino)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
	};
	struct stat st;
	int fd = (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* Replace *@fd (a dir, (@dev, @ino)) by its twin in a clone. */
static int isolate_one(int *fd, dev_t dev, ino_t ino)
{
	int c = clone_dir(*fd);
	if (c < 0)
		return c;
	int r = reopen_beneath(c, "", dev, ino);
	close(c);
	if (r < 0)
		return r;
	close(*fd);
	*fd = r;
	return 0;
}

/* The upper and the work dir must be in one clone: a copy made in the work
 * dir is renamed into the upper, and rename(2) never crosses mounts. Clone
 * their deepest common directory, which is in their mount since both are. */
static int isolate_upper_and_work(struct uf_branch *up, int *work_fd, const char *work_path)
{
	struct statx a, b;
	struct stat wst;

	if (statx(up->fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) < 0 ||
	    statx(*work_fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &b) < 0 || fstat(*work_fd, &wst) < 0)
		return -errno;
	if (!(a.stx_mask & STATX_MNT_ID) || a.stx_mnt_id != b.stx_mnt_id)
		return -EXDEV; /* not one mount: rename would fail anyway */

	size_t n = 0;
	for (size_t i = 0; up->path[i] && up->path[i] == work_path[i]; i++)
		if (up->path[i] == '/')
			n = i;
	g_autofree char *common = n ? g_strndup(up->path, n) : g_strdup("/");
	_cleanup_close_ int cfd = open(common, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return -errno;
	_cleanup_close_ int c = clone_dir(cfd);
	if (c < 0)
		return c;
	int ufd = reopen_beneath(c, up->path + n + 1, up->dev, up->ino);
	if (ufd < 0)
		return ufd;
	int wfd = reopen_beneath(c, work_path + n + 1, wst.st_dev, wst.st_ino);
	if (wfd < 0) {
		close(ufd);
		return wfd;
	}
	close(up->fd);
	up->fd = ufd;
	close(*work_fd);
	*work_fd = wfd;
	return 0;
}

void uf_branches_isolate(struct uf_branch *b, unsigned n, int *work_fd, const char *work_path)
{
	unsigned i = 0;
	int r = 0;

	if (n > 0 && b[0].writable && *work_fd >= 0) {
		r = isolate_upper_and_work(&b[0], work_fd, work_path);
		i = 1;
	}
	for (; r == 0 && i < n; i++)
		r = isolate_one(&b[i].fd, b[i].dev, b[i].ino);
	if (r < 0)
		uf_debug("branches not isolated from mounts inside them: %s", g_strerror(-r));
}
