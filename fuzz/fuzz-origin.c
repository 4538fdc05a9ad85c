/* libFuzzer target: uf_origin_parse(). An accepted handle lies inside the
 * value, is whole 32-bit words and fits MAX_HANDLE_SZ. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unionfuse/layer/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uf_origin o;

	int r = uf_origin_parse(data, size, &o);
	if (r == -ENODATA || r == -EINVAL)
		return 0;
	if (r != 0 || size < UF_FB_HDR || data[1] != UF_FB_MAGIC || data[0] != 0)
		__builtin_trap();
	size_t len = data[2];
	if (len > size || len != UF_FB_HDR + (size_t)o.fid_len || o.fid_len == 0 || o.fid_len % 4 ||
	    o.fid_len > UF_FH_FID_MAX || (o.flags & ~UF_FB_FLAGS_ALL) ||
	    memcmp(o.fid, data + UF_FB_HDR, o.fid_len) != 0 || memcmp(o.uuid, data + 5, 16) != 0)
		__builtin_trap();
	return 0;
}
