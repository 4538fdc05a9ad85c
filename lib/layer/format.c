/* Parsers for the on-disk format's values (overlay.redirect, .opaque,
 * .metacopy, .origin) and the aufs/OCI ".wh." names. Their input comes from
 * branches that untrusted users may write, so each checks every byte and
 * length; see docs/format.md "Untrusted input" for the rules and the
 * kernel functions they follow (fs/overlayfs/namei.c, util.c). */
#include <endian.h>
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "unionfuse/layer/format.h"

/* Check the name @s of @n bytes found between two '/' of a redirect. */
static int check_component(const char *s, size_t n, unsigned name_max)
{
	if (n == 0)
		return -EINVAL; /* "//", a trailing '/', or "/" alone */
	if (s[0] == '.' && (n == 1 || (n == 2 && s[1] == '.')))
		return -EACCES; /* the kernel's lookup_one_len() refuses them */
	if (n > name_max)
		return -ENAMETOOLONG;
	return 0;
}

int uf_redirect_parse(const char *value, size_t len, unsigned name_max, char **ret)
{
	int r = 0;

	/* The kernel stops at the first NUL; a value with one inside is not
	 * what any writer meant, so it is refused rather than cut. */
	if (len == 0 || len > UF_REDIRECT_MAX || memchr(value, '\0', len))
		return -EINVAL;
	if (value[0] == '/') {
		const char *s = value + 1, *end = value + len;
		for (;;) {
			const char *next = memchr(s, '/', end - s);
			size_t n = (next ? next : end) - s;
			int c = check_component(s, n, name_max);
			/* Malformed beats the rest: the kernel checks the
			 * shape before it looks up any component; then the
			 * first bad component is what its walk meets. */
			if (c == -EINVAL)
				return c;
			if (r == 0)
				r = c;
			if (!next)
				break;
			s = next + 1;
		}
	} else {
		if (memchr(value, '/', len))
			return -EINVAL;
		r = check_component(value, len, name_max);
	}
	if (r < 0)
		return r;
	*ret = g_strndup(value, len);
	return 0;
}

enum uf_opaque uf_opaque_parse(const void *value, size_t len)
{
	const char *v = value;

	if (len != 1)
		return UF_OPAQUE_NONE;
	if (v[0] == 'y')
		return UF_OPAQUE_YES;
	if (v[0] == 'x')
		return UF_OPAQUE_XWHITEOUTS;
	return UF_OPAQUE_NONE;
}

/* Digest size of fs-verity hash algorithm @algo, or -1 when unknown. */
static int verity_digest_size(uint8_t algo)
{
	switch (algo) {
	case 0:
		return 0; /* no digest */
	case 1:
		return 32; /* FS_VERITY_HASH_ALG_SHA256 */
	case 2:
		return 64; /* FS_VERITY_HASH_ALG_SHA512 */
	default:
		return -1;
	}
}

int uf_metacopy_parse(const void *value, size_t len, struct uf_metacopy *ret)
{
	const uint8_t *v = value;
	struct uf_metacopy m = { 0 };

	if (len == 0)
		goto done; /* the kernel's "no digest" form, and ours */
	/* The kernel: fewer bytes than the header is EIO even without verity.
	 * It only checks version and len when it reads the digest (verity=on);
	 * we check them always, since we cannot tell what a newer version or
	 * a flag we do not know would ask of us. */
	if (len < UF_METACOPY_HDR || len > UF_METACOPY_MAX)
		return -EINVAL;
	if (v[0] != 0 || v[1] != len || v[2] != 0)
		return -EINVAL; /* version, len, flags */
	if (verity_digest_size(v[3]) != (int)(len - UF_METACOPY_HDR))
		return -EINVAL;
	m.digest_algo = v[3];
	m.digest_len = len - UF_METACOPY_HDR;
	memcpy(m.digest, v + UF_METACOPY_HDR, m.digest_len);
done:
	if (ret)
		*ret = m;
	return 0;
}

int uf_origin_parse(const void *value, size_t len, struct uf_origin *ret)
{
	const uint8_t *v = value;

	if (len == 0)
		return -ENODATA; /* "copied up, origin unknown" */
	/* ovl_check_fb_len(): version 0, magic 1, len 2, flags 3, type 4. */
	if (len < UF_FB_HDR || len < v[2])
		return -EINVAL;
	if (v[1] != UF_FB_MAGIC)
		return -EINVAL;
	if (v[0] > 0 || (v[3] & ~UF_FB_FLAGS_ALL))
		return -ENODATA;
	bool big = v[3] & UF_FB_FLAG_BIG_ENDIAN;
	if (!(v[3] & UF_FB_FLAG_ANY_ENDIAN) && big != (__BYTE_ORDER == __BIG_ENDIAN))
		return -ENODATA;
	/* The kernel trusts len from here on (it computes the handle's size
	 * as len - 21): a len below the header, a handle that is not whole
	 * 32-bit words or does not fit MAX_HANDLE_SZ, or FILEID_INVALID would
	 * only fail later, or worse. */
	size_t fid_len = v[2] >= UF_FB_HDR ? v[2] - UF_FB_HDR : 0;
	if (v[2] < UF_FB_HDR || fid_len == 0 || fid_len % 4 || fid_len > UF_FH_FID_MAX)
		return -EINVAL;
	if (v[4] == 0xff)
		return -EINVAL;
	if (ret) {
		*ret = (struct uf_origin){ .flags = v[3], .type = v[4], .fid_len = fid_len };
		memcpy(ret->uuid, v + 5, sizeof(ret->uuid));
		memcpy(ret->fid, v + UF_FB_HDR, fid_len);
	}
	return 0;
}

enum uf_wh_name uf_wh_name_parse(const char *name, const char **ret_target)
{
	if (strncmp(name, ".wh.", 4) != 0)
		return UF_WH_NONE;
	const char *t = name + 4;
	if (strcmp(t, ".wh..opq") == 0)
		return UF_WH_OPQ;
	/* ".wh..wh.*" are aufs's own (plink dirs, our copy-up temp names). */
	if (strncmp(t, ".wh.", 4) == 0)
		return UF_WH_RESERVED;
	if (t[0] == '\0' || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		return UF_WH_RESERVED;
	if (ret_target)
		*ret_target = t;
	return UF_WH_TARGET;
}
