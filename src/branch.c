/* Opening and checking the branch stack given on the command line. All
 * checks run before anything is created, so bad input changes nothing. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

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

		r = open_dir(upper ? "upper branch" : "branch", path,
			     upper ? R_OK | W_OK | X_OK : R_OK | X_OK, &b[i].path, &b[i].fd, &st,
			     reterr_msg);
		if (r < 0)
			goto fail;
		b[i].dev = st.st_dev;
		b[i].ino = st.st_ino;
		b[i].index = i;
		b[i].writable = upper;
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
		    char **reterr_msg)
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
