/* The on-disk format shared with the kernel overlayfs: whiteouts (char 0/0),
 * the opaque and redirect xattrs, and the aufs/OCI ".wh." forms we read. */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "unionfuse/format.h"
#include "unionfuse/types.h"

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

/* Is the directory @dirfd (O_RDONLY) opaque, by an xattr of "y" or a
 * ".wh..wh..opq" regular file? */
bool uf_dir_is_opaque(const struct uf_fs *fs, int dirfd);

/* Read and check the redirect xattr of directory @dirfd, of any length up
 * to UF_REDIRECT_MAX. Returns 0 and a new string in *ret (NULL when there is
 * none), uf_redirect_parse()'s -EINVAL, -EACCES or -ENAMETOOLONG for an
 * invalid value, or another -errno when it cannot be read. */
int uf_dir_get_redirect(const struct uf_fs *fs, int dirfd, char **ret);

/* Is the file at @path (not followed) a metadata-only copy? Returns 1, 0,
 * -EIO for an invalid overlay.metacopy value (as the kernel), or -errno. */
int uf_file_get_metacopy(const struct uf_fs *fs, const char *path);

int uf_dir_set_opaque(const struct uf_fs *fs, int dirfd);
int uf_dir_set_redirect(const struct uf_fs *fs, int dirfd, const char *path);

/* Create a whiteout @name in upper dir @dirfd. Returns 0 or -errno. */
int uf_whiteout_create(const struct uf_fs *fs, int dirfd, const char *name);

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
