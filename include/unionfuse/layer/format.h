/* Parsers for the on-disk format read from the branches: overlay.redirect,
 * overlay.opaque, overlay.metacopy, overlay.origin values and the aufs/OCI
 * ".wh." names. Every value comes from a branch that an untrusted user may
 * have written, so each parser checks all of it and returns what it found
 * in a form the daemon can use without further checks. Pure functions: no
 * I/O, no FUSE, no global state (part of the layer library). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The largest xattr value getxattr(2) returns (XATTR_SIZE_MAX): the most a
 * redirect can be when the kernel reads it. */
#define UF_XATTR_VALUE_MAX 65536
#define UF_REDIRECT_MAX UF_XATTR_VALUE_MAX

/* Check an overlay.redirect value of @len bytes (no terminating NUL needed)
 * the way the kernel's lookup does: absolute ("/a/b": '/' then names joined
 * by single '/') or relative (one name). @name_max is the branches' NAME_MAX.
 * Returns 0 and a new NUL-terminated copy (g_free) in *ret, or:
 *   -EINVAL        malformed: empty, an embedded NUL, "/" alone, an empty
 *                  component ("//", trailing '/'), '/' in a relative value,
 *                  longer than UF_REDIRECT_MAX (the kernel: EINVAL);
 *   -EACCES        a "." or ".." component (the kernel's lookup_one_len()
 *                  refuses these names with EACCES);
 *   -ENAMETOOLONG  a component longer than @name_max (the kernel: no such
 *                  name in that branch, so the redirect leads nowhere). */
int uf_redirect_parse(const char *value, size_t len, unsigned name_max, char **ret);

enum uf_opaque {
	UF_OPAQUE_NONE,	      /* not opaque: anything but "y" or "x" */
	UF_OPAQUE_YES,	      /* "y": nothing below merges */
	UF_OPAQUE_XWHITEOUTS, /* "x" (Linux 6.7+): merged as usual, may hold xwhiteouts */
};

/* What an overlay.opaque value of @len bytes means. The kernel reads one
 * byte into a one-byte buffer, so a longer value is "not opaque". */
enum uf_opaque uf_opaque_parse(const void *value, size_t len);

/* struct ovl_metacopy: version, len, flags, digest_algo, then the digest. */
#define UF_METACOPY_HDR 4
#define UF_METACOPY_DIGEST_MAX 64 /* FS_VERITY_MAX_DIGEST_SIZE */
#define UF_METACOPY_MAX (UF_METACOPY_HDR + UF_METACOPY_DIGEST_MAX)

struct uf_metacopy {
	uint8_t digest_algo; /* FS_VERITY_HASH_ALG_*; 0: none */
	uint8_t digest_len;
	uint8_t digest[UF_METACOPY_DIGEST_MAX];
};

/* Check an overlay.metacopy value: empty (what unionfuse and the kernel
 * write without verity), or a struct ovl_metacopy of version 0 whose len
 * byte is the value's size, with no flags and a digest whose size fits its
 * algorithm (none, SHA-256 or SHA-512). Returns 0 and fills *ret (may be
 * NULL), or -EINVAL; the caller answers EIO as the kernel does. */
int uf_metacopy_parse(const void *value, size_t len, struct uf_metacopy *ret);

/* struct ovl_fb (the on-disk overlay.origin): version, magic 0xfb, len,
 * flags, fid type, the filesystem's uuid, then the file handle. */
#define UF_FB_HDR 21
#define UF_FB_MAGIC 0xfb
#define UF_FB_FLAG_BIG_ENDIAN (1 << 0)
#define UF_FB_FLAG_ANY_ENDIAN (1 << 1)
#define UF_FB_FLAG_PATH_UPPER (1 << 2)
#define UF_FB_FLAGS_ALL (UF_FB_FLAG_BIG_ENDIAN | UF_FB_FLAG_ANY_ENDIAN | UF_FB_FLAG_PATH_UPPER)
#define UF_FH_FID_MAX 128 /* MAX_HANDLE_SZ */

struct uf_origin {
	uint8_t flags;
	uint8_t type; /* the fid type for open_by_handle_at() */
	uint8_t uuid[16];
	uint8_t fid_len; /* bytes, a multiple of 4 */
	uint8_t fid[UF_FH_FID_MAX];
};

/* Check an overlay.origin value as the kernel's ovl_check_fb_len() does,
 * and also that the handle's own length is consistent. Returns 0 and
 * fills *ret (may be NULL); -ENODATA for "origin unknown" (empty value,
 * a newer version, unknown flags, the other byte order), which is not an
 * error; or -EINVAL for a malformed value. */
int uf_origin_parse(const void *value, size_t len, struct uf_origin *ret);

enum uf_wh_name {
	UF_WH_NONE,	/* an ordinary name */
	UF_WH_TARGET,	/* ".wh.NAME": may hide NAME (*ret_target) */
	UF_WH_OPQ,	/* ".wh..wh..opq": may make its directory opaque */
	UF_WH_RESERVED, /* any other ".wh." name: aufs-internal or hiding no
			 * valid name (".wh.", ".wh..", ".wh..."); hidden, no effect */
};

/* Classify directory entry @name by the aufs/OCI ".wh." convention. For
 * UF_WH_TARGET, *ret_target (may be NULL) points into @name. */
enum uf_wh_name uf_wh_name_parse(const char *name, const char **ret_target);

/* Is @st a kernel whiteout, a char device 0/0? */
static inline bool uf_format_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

/* Does a ".wh." entry of type @st take effect? Only a regular file does,
 * as OCI layers and aufs write them. A directory, symlink, fifo or device
 * of that name hides nothing (and a directory is removed with its parent). */
static inline bool uf_format_is_aufs_whiteout(const struct stat *st)
{
	return S_ISREG(st->st_mode);
}
