/* Whiteouts, opaque directories and redirects in the kernel overlayfs
 * format, plus reading the aufs/OCI ".wh." form found in image layers.
 * Reads here fetch the values; format.c judges them. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "unionfuse/layer/format.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/util.h"

const struct uf_layer_fmt uf_layer_fmt_trusted = {
	.prefix = "trusted.overlay.",
	.opaque = "trusted.overlay.opaque",
	.redirect = "trusted.overlay.redirect",
	.metacopy = "trusted.overlay.metacopy",
	.name_max = 255,
};

const struct uf_layer_fmt uf_layer_fmt_user = {
	.prefix = "user.overlay.",
	.opaque = "user.overlay.opaque",
	.redirect = "user.overlay.redirect",
	.metacopy = "user.overlay.metacopy",
	.name_max = 255,
};

bool uf_has_aufs_whiteout(int dirfd, const char *name)
{
	g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);
	struct stat st;

	/* The ".wh." name may be too long for the branch: then it can't exist. */
	return fstatat(dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0 && uf_format_is_aufs_whiteout(&st);
}

bool uf_layer_dir_is_opaque(const struct uf_layer_fmt *f, int dirfd)
{
	char v[2];
	struct stat st;
	/* Two bytes: a longer value shows as such, and is not opaque. */
	ssize_t n = fgetxattr(dirfd, f->opaque, v, sizeof(v));

	/* Only "y": since Linux 6.7 "x" marks a dir holding xwhiteouts, which
	 * is merged as usual. */
	if (n >= 0 && uf_opaque_parse(v, n) == UF_OPAQUE_YES)
		return true;
	return fstatat(dirfd, UF_WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       uf_format_is_aufs_whiteout(&st);
}

/* Read xattr @name of @fd into a new buffer (g_free), however long it is up
 * to UF_XATTR_VALUE_MAX: a first read into @small bytes, which suits nearly
 * every value, then as many bytes as the value has. Returns its size (the
 * buffer has a NUL after it) or -errno. */
static ssize_t read_xattr(int fd, const char *name, size_t small, char **ret)
{
	g_autofree char *buf = g_malloc(small + 1);
	ssize_t n = fgetxattr(fd, name, buf, small);

	/* The value may grow between the probe and the read: try again. */
	for (int tries = 0; n < 0 && errno == ERANGE && tries < 8; tries++) {
		n = fgetxattr(fd, name, NULL, 0);
		if (n < 0)
			break;
		if (n > UF_XATTR_VALUE_MAX)
			return -E2BIG;
		g_free(buf);
		buf = g_malloc((size_t)n + 1);
		n = fgetxattr(fd, name, buf, n);
	}
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*ret = g_steal_pointer(&buf);
	return n;
}

int uf_layer_dir_get_redirect(const struct uf_layer_fmt *f, int dirfd, char **ret)
{
	g_autofree char *buf = NULL;
	/* 256: the kernel's default redirect_max for what it writes. */
	ssize_t n = read_xattr(dirfd, f->redirect, 256, &buf);

	*ret = NULL;
	if (n == -ENODATA || n == -ENOTSUP)
		return 0;
	if (n < 0)
		return n;
	return uf_redirect_parse(buf, n, f->name_max, ret);
}

int uf_layer_file_get_metacopy(const struct uf_layer_fmt *f, const char *path)
{
	char v[UF_METACOPY_MAX + 1];
	/* One byte more than the largest valid value, to see a longer one. */
	ssize_t n = lgetxattr(path, f->metacopy, v, sizeof(v));

	if (n < 0) {
		/* EACCES: user.* needs read access to the file; as the kernel
		 * (ovl_check_metacopy_xattr()), such a file is no metacopy. */
		if (errno == ENODATA || errno == ENOTSUP || errno == EACCES)
			return 0;
		return errno == ERANGE ? -EIO : -errno;
	}
	return uf_metacopy_parse(v, n, NULL) < 0 ? -EIO : 1;
}

int uf_layer_file_get_redirect(const struct uf_layer_fmt *f, int fd, char **ret)
{
	/* The same value and rules as a directory's. */
	return uf_layer_dir_get_redirect(f, fd, ret);
}

int uf_layer_fd_get_metacopy(const struct uf_layer_fmt *f, int fd)
{
	char v[UF_METACOPY_MAX + 1];
	ssize_t n = fgetxattr(fd, f->metacopy, v, sizeof(v));

	if (n < 0) {
		if (errno == ENODATA || errno == ENOTSUP || errno == EACCES)
			return 0;
		return errno == ERANGE ? -EIO : -errno;
	}
	return uf_metacopy_parse(v, n, NULL) < 0 ? -EIO : 1;
}

int uf_layer_dir_set_opaque(const struct uf_layer_fmt *f, int dirfd)
{
	return uf_neg_errno(fsetxattr(dirfd, f->opaque, "y", 1, 0));
}

int uf_layer_dir_set_redirect(const struct uf_layer_fmt *f, int dirfd, const char *path)
{
	return uf_neg_errno(fsetxattr(dirfd, f->redirect, path, strlen(path), 0));
}

int uf_layer_whiteout_create(int dirfd, const char *name)
{
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

bool uf_is_private_xattr(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	return strncmp(name, prefix, n) == 0 &&
	       strncmp(name + n, UF_XATTR_ESCAPE, UF_XATTR_ESCAPE_LEN) != 0;
}

char *uf_xattr_to_disk(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0)
		return g_strdup(name);
	return g_strconcat(prefix, UF_XATTR_ESCAPE, name + n, NULL);
}

char *uf_xattr_from_disk(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0)
		return g_strdup(name);
	if (strncmp(name + n, UF_XATTR_ESCAPE, UF_XATTR_ESCAPE_LEN) != 0)
		return NULL; /* the format's own */
	return g_strconcat(prefix, name + n + UF_XATTR_ESCAPE_LEN, NULL);
}
