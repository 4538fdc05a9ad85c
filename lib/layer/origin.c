/* overlay.origin values, index entry names and overlay.nlink, byte for byte
 * as the kernel overlayfs writes them (docs/format.md, "Origins and the
 * index"): a copy's origin is the file handle of the lower object it was
 * copied from, and with index=on a copied-up lower hard link lives at
 * WORKDIR/index/<hex of that origin> so that its other names find it. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "unionfuse/layer/origin.h"

/* Linux 6.5's FS_IOC_GETFSUUID; Debian 12's headers predate it. */
struct uf_fsuuid2 {
	uint8_t len;
	uint8_t uuid[16];
};
#define UF_FS_IOC_GETFSUUID _IOR(0x15, 0, struct uf_fsuuid2)

int uf_origin_encode(int type, const void *fid, size_t fid_len, const uint8_t uuid[16],
		     bool upper, uint8_t ret[static UF_ORIGIN_MAX])
{
	if (fid_len == 0 || fid_len % 4 || fid_len > UF_FH_FID_MAX || type < 0 || type >= 0xff)
		return -EINVAL;
	ret[0] = 0; /* OVL_FH_VERSION */
	ret[1] = UF_FB_MAGIC;
	ret[2] = (uint8_t)(UF_FB_HDR + fid_len);
	/* OVL_FH_FLAG_CPU_ENDIAN */
	ret[3] = (__BYTE_ORDER == __BIG_ENDIAN ? UF_FB_FLAG_BIG_ENDIAN : 0) |
		 (upper ? UF_FB_FLAG_PATH_UPPER : 0);
	ret[4] = (uint8_t)type;
	memcpy(ret + 5, uuid, 16);
	memcpy(ret + UF_FB_HDR, fid, fid_len);
	return (int)(UF_FB_HDR + fid_len);
}

int uf_origin_of_fd(int fd, const uint8_t uuid[16], bool upper, uint8_t ret[static UF_ORIGIN_MAX])
{
	union {
		struct file_handle fh;
		uint8_t buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	int mnt_id;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	/* Flags 0: the non-connectable handle, the one the kernel encodes
	 * without a parent. */
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return uf_origin_encode(h.fh.handle_type, h.fh.f_handle, h.fh.handle_bytes, uuid, upper,
				ret);
}

void uf_fs_uuid(int fd, uint8_t ret[16])
{
	struct uf_fsuuid2 u = { 0 };

	memset(ret, 0, 16);
	if (ioctl(fd, UF_FS_IOC_GETFSUUID, &u) == 0 && u.len <= 16)
		memcpy(ret, u.uuid, u.len);
}

void uf_index_name(const uint8_t *origin, size_t len, char ret[static UF_INDEX_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";

	len = len > UF_ORIGIN_MAX ? UF_ORIGIN_MAX : len;
	for (size_t i = 0; i < len; i++) {
		ret[2 * i] = hex[origin[i] >> 4];
		ret[2 * i + 1] = hex[origin[i] & 15];
	}
	ret[2 * len] = '\0';
}

int uf_nlink_parse(const char *value, size_t len, char *ret_base, int *ret_diff)
{
	char buf[UF_NLINK_MAX];
	char *end;

	if (len < 3 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, len);
	buf[len] = '\0';
	if ((buf[0] != 'U' && buf[0] != 'L') || (buf[1] != '+' && buf[1] != '-'))
		return -EINVAL;
	/* kstrtoint(): digits only after the sign, no space, in int range. */
	for (size_t i = 2; i < len; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
	errno = 0;
	long v = strtol(buf + 1, &end, 10);
	if (errno || *end || v < INT32_MIN || v > INT32_MAX)
		return -EINVAL;
	*ret_base = buf[0];
	*ret_diff = (int)v;
	return 0;
}

unsigned uf_nlink_apply(char base, int diff, unsigned upper_nlink, unsigned lower_nlink,
			unsigned fallback)
{
	long long n = (long long)(base == 'L' ? lower_nlink : upper_nlink) + diff;

	return n > 0 && n <= UINT32_MAX ? (unsigned)n : fallback;
}

int uf_nlink_format(unsigned union_nlink, unsigned upper_nlink, char ret[static UF_NLINK_MAX])
{
	return snprintf(ret, UF_NLINK_MAX, "U%+i", (int)(union_nlink - upper_nlink));
}
