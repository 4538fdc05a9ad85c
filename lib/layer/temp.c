/* Temporary names in the upper branch (temp.h says what for). */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "unionfuse/layer/temp.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/util.h"

static atomic_uint tmp_counter;

void uf_tmp_name(char buf[static UF_TMP_NAME_MAX])
{
	g_snprintf(buf, UF_TMP_NAME_MAX, UF_TMP_PREFIX "%d.%u", (int)getpid(),
		   atomic_fetch_add(&tmp_counter, 1));
}

/* How deep uf_remove_tree() goes: an upper's owner may nest directories
 * without end in a ".wh." dir; what is deeper is left (and reported). */
#define UF_REMOVE_DEPTH 64

static int remove_tree(int dirfd, const char *name, dev_t dev, int depth);

/* Empty directory @fd (consumed), depth first. */
static int empty_dir(int fd, dev_t dev, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int e = remove_tree(dirfd(d), de->d_name, dev, depth - 1);
		if (r == 0 && e != -ENOENT)
			r = e;
	}
	closedir(d);
	return r;
}

static int remove_tree(int dirfd, const char *name, dev_t dev, int depth)
{
	struct stat st;
	int r = uf_neg_errno(unlinkat(dirfd, name, 0));
	if (r != -EISDIR)
		return r;
	if (depth <= 0)
		return -ENOTEMPTY;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Never into another filesystem mounted there. */
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		return -EXDEV;
	}
	r = empty_dir(fd, dev, depth);
	int e = uf_neg_errno(unlinkat(dirfd, name, AT_REMOVEDIR));
	return r ? r : e;
}

int uf_remove_tree(int dirfd, const char *name)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return -errno;
	return remove_tree(dirfd, name, st.st_dev, UF_REMOVE_DEPTH);
}

/* Without RENAME_WHITEOUT (a filesystem without it, or no CAP_MKNOD):
 * make a whiteout under the temporary name and swap it with the entry; or,
 * when no whiteout device can be made, hide the lower with an aufs-form
 * ".wh.NAME" first and then move the entry aside (the upper entry shows until
 * that second step, so the union is never in between). */
static int whiteout_by_hand(int dirfd, const char *name, const char *tmp)
{
	int r = uf_neg_errno(mknodat(dirfd, tmp, S_IFCHR | 0000, makedev(0, 0)));
	if (r == 0) {
		r = uf_neg_errno(renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE));
		if (r < 0)
			unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (r != -EPERM)
		return r;
	g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);
	if (strlen(wh) > 255)
		return -ENAMETOOLONG;
	int fd = openat(dirfd, wh, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	r = uf_neg_errno(renameat2(dirfd, name, dirfd, tmp, RENAME_NOREPLACE));
	if (r < 0)
		unlinkat(dirfd, wh, 0);
	return r;
}

int uf_remove_aside(int dirfd, const char *name, bool whiteout)
{
	char tmp[UF_TMP_NAME_MAX];
	struct stat st;
	int r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* A non-dir with nothing below it goes in one unlink. */
	if (!whiteout && !S_ISDIR(st.st_mode))
		return uf_neg_errno(unlinkat(dirfd, name, 0));

	uf_tmp_name(tmp);
	r = uf_neg_errno(
	    renameat2(dirfd, name, dirfd, tmp, whiteout ? RENAME_WHITEOUT : RENAME_NOREPLACE));
	/* The aufs-form whiteout of an unprivileged daemon can't be made so. */
	if (whiteout && (r == -EINVAL || r == -EPERM || r == -EOPNOTSUPP))
		r = whiteout_by_hand(dirfd, name, tmp);
	if (r < 0)
		return r;
	/* The union shows the new state from here on; what is left under the
	 * temporary name is reaped later if this fails. */
	if (uf_remove_tree(dirfd, tmp) < 0)
		uf_log_limited(LOG_WARNING, "could not remove temporary '%s' (left for later)", tmp);
	return 0;
}

void uf_tmp_reap(int dirfd, const char *name)
{
	if (!g_str_has_prefix(name, UF_TMP_PREFIX))
		return;
	if (atoi(name + strlen(UF_TMP_PREFIX)) == (int)getpid())
		return; /* ours, in the making */
	uf_remove_tree(dirfd, name);
}

void uf_tmp_reap_dir(int workfd)
{
	if (workfd < 0)
		return;
	int fd = openat(workfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		uf_tmp_reap(dirfd(d), de->d_name);
	closedir(d);
}

int uf_layer_dir_replace_empty(const struct uf_layer_fmt *f, int dirfd, const char *name)
{
	char tmp[UF_TMP_NAME_MAX];
	struct stat st, tst;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	uf_tmp_name(tmp);
	int r = uf_neg_errno(mkdirat(dirfd, tmp, 0700));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = openat(dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = fd < 0 ? -errno : uf_neg_errno(fstat(fd, &tst));
	/* In an upper dir its owner may change: act only on what we made. */
	if (r == 0 && (tst.st_uid != geteuid() || !S_ISDIR(tst.st_mode)))
		return -EIO;
	if (r == 0)
		r = uf_neg_errno(fchown(fd, st.st_uid, st.st_gid));
	if (r == 0)
		r = uf_neg_errno(fchmod(fd, st.st_mode & 07777));
	if (r == 0)
		r = uf_layer_dir_set_opaque(f, fd);
	if (r == 0)
		r = uf_neg_errno(renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE));
	/* Either way what is under the temporary name now goes: the new dir
	 * when the exchange failed, the old one with its whiteouts when not. */
	uf_remove_tree(dirfd, tmp);
	return r;
}
