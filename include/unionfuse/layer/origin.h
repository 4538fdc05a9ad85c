/* overlay.origin, the inode index and overlay.nlink, in the kernel
 * overlayfs's format (fs/overlayfs/copy_up.c ovl_encode_real_fh(), namei.c
 * ovl_get_index_name_fh(), util.c ovl_get_nlink()/ovl_set_nlink_upper()).
 * The parser of a value read back is uf_origin_parse() (format.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unionfuse/layer/format.h"

#define UF_ORIGIN_MAX (UF_FB_HDR + UF_FH_FID_MAX)
/* The hex of a struct ovl_fb: the name of an index entry. */
#define UF_INDEX_NAME_MAX (2 * UF_ORIGIN_MAX + 1)
/* "U+2147483647": the kernel reads at most 12 bytes of overlay.nlink. */
#define UF_NLINK_MAX 13

/* Encode file handle @fid (@fid_len bytes, a multiple of 4, of fid type
 * @type) of an object on a filesystem whose uuid is @uuid as the struct
 * ovl_fb the kernel writes: version 0, magic 0xfb, len, flags (this CPU's
 * byte order; @upper: OVL_FH_FLAG_PATH_UPPER), type, uuid, fid. Returns its
 * length, or -EINVAL when the handle does not fit the format. */
int uf_origin_encode(int type, const void *fid, size_t fid_len, const uint8_t uuid[16],
		     bool upper, uint8_t ret[static UF_ORIGIN_MAX]);

/* The encoded origin of the object @fd (any fd, O_PATH too) on a filesystem
 * whose uuid is @uuid, via name_to_handle_at(). Returns its length, or
 * -EOPNOTSUPP when the filesystem has no file handles, or -errno. */
int uf_origin_of_fd(int fd, const uint8_t uuid[16], bool upper, uint8_t ret[static UF_ORIGIN_MAX]);

/* The uuid of the filesystem of @fd as the kernel records it in origins
 * (FS_IOC_GETFSUUID; all zeros when the filesystem reports none). */
void uf_fs_uuid(int fd, uint8_t ret[16]);

/* The index entry name of an origin value: its bytes in lower-case hex. */
void uf_index_name(const uint8_t *origin, size_t len, char ret[static UF_INDEX_NAME_MAX]);

/* overlay.nlink: the union's link count relative to the upper's ('U') or
 * the lower's ('L') st_nlink, "U+1", "L-2". Parse as ovl_get_nlink(): 'U'
 * or 'L', then a sign and a decimal int. Returns 0 with *ret_base and
 * *ret_diff, or -EINVAL. */
int uf_nlink_parse(const char *value, size_t len, char *ret_base, int *ret_diff);

/* The union link count a parsed overlay.nlink gives with the upper's and
 * the lower's st_nlink; @fallback (the upper's) when that is not positive,
 * as the kernel. */
unsigned uf_nlink_apply(char base, int diff, unsigned upper_nlink, unsigned lower_nlink,
			unsigned fallback);

/* Format the value the kernel writes: "U%+i" of @union_nlink - @upper_nlink.
 * Returns its length. */
int uf_nlink_format(unsigned union_nlink, unsigned upper_nlink, char ret[static UF_NLINK_MAX]);
