/* Whiteouts, opaque directories and redirects in the kernel overlayfs
 * format, plus reading the aufs/OCI ".wh." form found in image layers. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

bool uf_has_aufs_whiteout(int dirfd, const char *name)
{
	g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);
	struct stat st;

	/* The ".wh." name may be too long for the branch: then it can't exist. */
	return fstatat(dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool uf_dir_is_opaque(const struct uf_fs *fs, int dirfd)
{
	char v[2];
	struct stat st;
	ssize_t n = fgetxattr(dirfd, fs->xattr_opaque, v, sizeof(v));

	/* Only "y": since Linux 6.7 "x" marks a dir holding xwhiteouts, which
	 * is merged as usual. */
	if (n == 1 && v[0] == 'y')
		return true;
	return fstatat(dirfd, UF_WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int uf_dir_get_redirect(const struct uf_fs *fs, int dirfd, char **ret)
{
	char buf[4096];
	ssize_t n = fgetxattr(dirfd, fs->xattr_redirect, buf, sizeof(buf) - 1);

	if (n < 0) {
		*ret = NULL;
		return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	}
	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	buf[n] = '\0';
	*ret = g_strdup(buf);
	return 0;
}

int uf_dir_set_opaque(const struct uf_fs *fs, int dirfd)
{
	return uf_neg_errno(fsetxattr(dirfd, fs->xattr_opaque, "y", 1, 0));
}

int uf_dir_set_redirect(const struct uf_fs *fs, int dirfd, const char *path)
{
	return uf_neg_errno(fsetxattr(dirfd, fs->xattr_redirect, path, strlen(path), 0));
}

int uf_whiteout_create(const struct uf_fs *fs, int dirfd, const char *name)
{
	(void)fs;
	int r = uf_neg_errno(mknodat(dirfd, name, S_IFCHR | 0000, makedev(0, 0)));
	if (r != -EPERM)
		return r;
	/* No CAP_MKNOD (unprivileged mount): the aufs form needs no privilege. */
	g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);
	if (strlen(wh) > 255)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = openat(dirfd, wh, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	return fd < 0 ? -errno : 0;
}

bool uf_is_private_xattr(const char *name)
{
	return g_str_has_prefix(name, "trusted.overlay.") ||
	       g_str_has_prefix(name, "user.overlay.");
}
