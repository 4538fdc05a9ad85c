/* libFuzzer target: uf_metacopy_parse(). An accepted value is empty or a
 * whole struct ovl_metacopy whose digest fits its algorithm. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unionfuse/layer/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uf_metacopy m;

	int r = uf_metacopy_parse(data, size, &m);
	if (r != 0) {
		if (r != -EINVAL || size == 0)
			__builtin_trap();
		return 0;
	}
	if (uf_metacopy_parse(data, size, NULL) != 0)
		__builtin_trap();
	if (size == 0) {
		if (m.digest_algo || m.digest_len)
			__builtin_trap();
		return 0;
	}
	if (size < UF_METACOPY_HDR || size > UF_METACOPY_MAX || data[1] != size ||
	    m.digest_len != size - UF_METACOPY_HDR || m.digest_algo != data[3] ||
	    memcmp(m.digest, data + UF_METACOPY_HDR, m.digest_len) != 0)
		__builtin_trap();
	return 0;
}
