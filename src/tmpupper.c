/* -o tmpupper: an upper branch that exists only while the daemon runs.
 *
 * As root the upper is on a tmpfs of its own, mounted on a fresh directory
 * under /run/unionfuse and lazily unmounted as soon as the branches are
 * open: from then on only the daemon's fds hold it, so it vanishes with the
 * daemon however that ends (unmount, SIGTERM, SIGKILL, a crash). With
 * -o tmpupper=DIR it is a fresh DIR/unionfuse-XXXXXX, removed at exit; that
 * one survives a crash, so it is marked and flock()ed, and the next tmpupper
 * mount in DIR removes any marked one whose lock is free. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "unionfuse/tmpupper.h"
#include "unionfuse/util.h"

#define RUN_DIR "/run/unionfuse"
#define MARKER ".unionfuse-tmpupper" /* says "ours to reap" in tmpupper=DIR */
#define PREFIX "unionfuse-"

int uf_rm_rf_at(int parent, const char *name)
{
	struct stat st, dst;
	int r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return uf_neg_errno(unlinkat(parent, name, 0));
	/* A non-root owner needs write and search permission to empty it. */
	if (geteuid() != 0 && (st.st_mode & 0700) != 0700)
		fchmodat(parent, name, 0700, 0);
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &dst) < 0 || dst.st_dev != st.st_dev || dst.st_ino != st.st_ino) {
		close(fd);
		return -EBUSY; /* swapped, or something is mounted on it: leave it */
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int e = uf_rm_rf_at(dirfd(d), de->d_name);
		if (e < 0 && r == 0)
			r = e;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Remove the leftovers of crashed tmpupper=DIR mounts: ours (owner, name,
 * marker) and not locked by a live daemon. Best effort, never fails. */
static void reap_stale(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);

	if (!d)
		return;
	dfd = -1; /* owned by d */
	for (struct dirent *de; (de = readdir(d));) {
		struct stat st;

		if (strlen(de->d_name) != strlen(PREFIX "XXXXXX") ||
		    !g_str_has_prefix(de->d_name, PREFIX))
			continue;
		_cleanup_close_ int fd =
		    openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
		    faccessat(fd, MARKER, F_OK, AT_SYMLINK_NOFOLLOW) < 0 ||
		    flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		int r = uf_rm_rf_at(dirfd(d), de->d_name);
		uf_log(r < 0 ? LOG_WARNING : LOG_NOTICE,
		       "removed the upper of a crashed -o tmpupper mount: %s/%s%s%s", dir,
		       de->d_name, r < 0 ? ": " : "", r < 0 ? g_strerror(-r) : "");
	}
	closedir(d);
}

/* A fresh private tmpfs under RUN_DIR (root only). */
static int make_tmpfs(const struct uf_config *c, struct uf_tmpupper *t, char **reterr_msg)
{
	g_autofree char *opts = g_strdup_printf("mode=0700%s%s", c->tmpupper_size ? ",size=" : "",
						c->tmpupper_size ? c->tmpupper_size : "");

	if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST) {
		*reterr_msg = g_strdup_printf("-o tmpupper: cannot make %s: %s", RUN_DIR,
					      g_strerror(errno));
		return -errno;
	}
	t->dir = g_strdup(RUN_DIR "/tmpupper-XXXXXX");
	if (!mkdtemp(t->dir)) {
		int e = errno;
		*reterr_msg = g_strdup_printf("-o tmpupper: cannot make a directory in %s: %s",
					      RUN_DIR, g_strerror(e));
		g_clear_pointer(&t->dir, g_free);
		return -e;
	}
	if (mount("tmpfs", t->dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		int e = errno;
		*reterr_msg =
		    e == EPERM ? g_strdup("-o tmpupper: cannot mount a tmpfs: that needs root; give "
					  "-o tmpupper=DIR to keep the upper in DIR")
			       : g_strdup_printf("-o tmpupper: cannot mount a tmpfs with '%s': %s",
						 opts, g_strerror(e));
		rmdir(t->dir);
		g_clear_pointer(&t->dir, g_free);
		return -e;
	}
	t->mounted = true;
	return 0;
}

/* A fresh, marked and locked unionfuse-XXXXXX under @base. */
static int make_subdir(const char *base, struct uf_tmpupper *t, char **reterr_msg)
{
	struct stat st;

	if (stat(base, &st) < 0) {
		int e = errno;
		*reterr_msg = g_strdup_printf("-o tmpupper=%s: %s", base, g_strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		*reterr_msg = g_strdup_printf("-o tmpupper=%s: not a directory", base);
		return -ENOTDIR;
	}
	reap_stale(base);
	t->dir = g_build_filename(base, PREFIX "XXXXXX", NULL);
	if (!mkdtemp(t->dir)) {
		int e = errno;
		*reterr_msg = g_strdup_printf("-o tmpupper=%s: cannot make a directory there: %s",
					      base, g_strerror(e));
		g_clear_pointer(&t->dir, g_free);
		return -e;
	}
	t->lock_fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->lock_fd >= 0)
		flock(t->lock_fd, LOCK_EX | LOCK_NB);
	int m = t->lock_fd < 0 ? -1 : openat(t->lock_fd, MARKER, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (m < 0) {
		int e = errno;
		*reterr_msg = g_strdup_printf("-o tmpupper=%s: cannot write in %s: %s", base,
					      t->dir, g_strerror(e));
		return -e;
	}
	close(m);
	return 0;
}

int uf_tmpupper_setup(struct uf_config *c, struct uf_tmpupper *t, char **reterr_msg)
{
	g_autofree char *upper = NULL, *work = NULL;
	struct stat top;
	int r;

	if (UF_WARN_ON(!c->tmpupper || c->branches->len == 0))
		return -EINVAL;
	/* The lowers' errors are uf_fs_new()'s to report; only a good top
	 * lower gives the upper's root its mode and owner. */
	bool have_top = stat(c->branches->pdata[0], &top) == 0 && S_ISDIR(top.st_mode);

	r = c->tmpupper_dir ? make_subdir(c->tmpupper_dir, t, reterr_msg)
			    : make_tmpfs(c, t, reterr_msg);
	if (r < 0)
		goto fail;
	upper = g_build_filename(t->dir, "upper", NULL);
	work = g_build_filename(t->dir, "work", NULL);
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0) {
		r = -errno;
		*reterr_msg = g_strdup_printf("-o tmpupper: cannot make the upper in %s: %s",
					      t->dir, g_strerror(-r));
		goto fail;
	}
	/* The union's root is the upper's: let it look like the base's. */
	if (have_top) {
		if (chown(upper, top.st_uid, top.st_gid) < 0)
			uf_debug("tmpupper: upper keeps its owner: %s", g_strerror(errno));
		chmod(upper, top.st_mode & 07777);
	}
	g_ptr_array_insert(c->branches, 0, g_steal_pointer(&upper));
	g_free(c->workdir);
	c->workdir = g_steal_pointer(&work);
	return 0;
fail:
	uf_tmpupper_cleanup(t);
	return r;
}

void uf_tmpupper_detach(struct uf_tmpupper *t)
{
	if (!t->mounted)
		return;
	if (umount2(t->dir, MNT_DETACH) == 0 && rmdir(t->dir) == 0)
		t->mounted = false;
	else
		uf_log(LOG_WARNING, "-o tmpupper: cannot detach the tmpfs at %s: %s (removed at exit)",
		       t->dir, g_strerror(errno));
	if (!t->mounted)
		g_clear_pointer(&t->dir, g_free);
}

void uf_tmpupper_cleanup(struct uf_tmpupper *t)
{
	if (t->dir && t->mounted) {
		if (umount2(t->dir, MNT_DETACH) == 0)
			rmdir(t->dir);
	} else if (t->dir) {
		g_autofree char *parent = g_path_get_dirname(t->dir);
		g_autofree char *name = g_path_get_basename(t->dir);
		_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = pfd < 0 ? -errno : uf_rm_rf_at(pfd, name);
		if (r < 0)
			uf_log(LOG_WARNING, "-o tmpupper: cannot remove %s: %s", t->dir,
			       g_strerror(-r));
	}
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	t->lock_fd = -1;
	t->mounted = false;
	g_clear_pointer(&t->dir, g_free);
}
