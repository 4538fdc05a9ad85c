/* The on-disk format shared with the kernel overlayfs: whiteouts (char 0/0),
 * the opaque and redirect xattrs, and the aufs/OCI ".wh." forms we read.
 * Part of the layer library: no FUSE, no struct uf_fs; what the daemon's
 * configuration decides (the xattr namespace, NAME_MAX) comes in a
 * struct uf_layer_fmt. The daemon's wrappers are in unionfuse/whiteout.h. */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "unionfuse/layer/format.h"

#define UF_WH_PREFIX ".wh."
#define UF_WH_PREFIX_LEN 4
#define UF_WH_OPAQUE ".wh..wh..opq"
#define UF_WH_META_PREFIX ".wh..wh." /* aufs internal names */

static inline bool uf_is_whiteout(const struct stat *st)
{
	return uf_format_is_whiteout(st);
}

/* Is @name one of the aufs/OCI special names (".wh.*")? Those are format,
 * never shown and never created through the mount. */
static inline bool uf_is_wh_name(const char *name)
{
	return strncmp(name, UF_WH_PREFIX, UF_WH_PREFIX_LEN) == 0;
}

/* Is @name hidden in the branch below @dirfd by an aufs ".wh.NAME" regular
 * file (no other type counts)? Returns true or false; errors count as "no". */
bool uf_has_aufs_whiteout(int dirfd, const char *name);

/* The names of the format's xattrs in the namespace in use, and the
 * branches' NAME_MAX. The strings are not owned. */
struct uf_layer_fmt {
	const char *prefix; /* "trusted.overlay." or "user.overlay." */
	const char *opaque; /* <prefix>opaque */
	const char *redirect;
	const char *metacopy;
	unsigned name_max;
};

/* The kernel's defaults: trusted.overlay.* (as root) and user.overlay.*
 * (userxattr), with NAME_MAX 255. */
extern const struct uf_layer_fmt uf_layer_fmt_trusted;
extern const struct uf_layer_fmt uf_layer_fmt_user;

/* Is the directory @dirfd (O_RDONLY) opaque, by an xattr of "y" or a
 * ".wh..wh..opq" regular file? */
bool uf_layer_dir_is_opaque(const struct uf_layer_fmt *f, int dirfd);

/* Read and check the redirect xattr of directory @dirfd, of any length up
 * to UF_REDIRECT_MAX. Returns 0 and a new string in *ret (NULL when there is
 * none), uf_redirect_parse()'s -EINVAL, -EACCES or -ENAMETOOLONG for an
 * invalid value, or another -errno when it cannot be read. */
int uf_layer_dir_get_redirect(const struct uf_layer_fmt *f, int dirfd, char **ret);

/* Is the file at @path (not followed) a metadata-only copy? Returns 1, 0,
 * -EIO for an invalid overlay.metacopy value (as the kernel), or -errno. */
int uf_layer_file_get_metacopy(const struct uf_layer_fmt *f, const char *path);

/* The same for a regular file open as @fd (not O_PATH): a metadata-only
 * file's redirect, naming where its data is; and its overlay.metacopy,
 * returning as uf_layer_file_get_metacopy(). */
int uf_layer_file_get_redirect(const struct uf_layer_fmt *f, int fd, char **ret);
int uf_layer_fd_get_metacopy(const struct uf_layer_fmt *f, int fd);

/* Mark directory @dirfd opaque ("y"); set its redirect to @path. Returns 0
 * or -errno. */
int uf_layer_dir_set_opaque(const struct uf_layer_fmt *f, int dirfd);
int uf_layer_dir_set_redirect(const struct uf_layer_fmt *f, int dirfd, const char *path);

/* Create a whiteout @name in upper dir @dirfd: a char device 0/0, or the
 * aufs ".wh.NAME" form without CAP_MKNOD. Returns 0 or -errno. */
int uf_layer_whiteout_create(int dirfd, const char *name);

/* The format's own xattrs are those under @prefix, the namespace in use
 * ("trusted.overlay." as root, else "user.overlay."); the other namespace's
 * overlay.* names are ordinary data. A user's own name under @prefix (a
 * nested overlay's, say) is stored escaped as "<prefix>overlay.*", as the
 * kernel does since 6.7. */
#define UF_XATTR_ESCAPE "overlay."
#define UF_XATTR_ESCAPE_LEN 8

/* Is on-disk @name one of the format's own, never shown nor copied up? */
bool uf_is_private_xattr(const char *prefix, const char *name);

/* The on-disk name of the xattr a user calls @name (a new string). */
char *uf_xattr_to_disk(const char *prefix, const char *name);

/* The name a user sees for on-disk @name (a new string), or NULL when it is
 * private. */
char *uf_xattr_from_disk(const char *prefix, const char *name);
