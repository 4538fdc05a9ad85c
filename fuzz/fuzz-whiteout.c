/* libFuzzer target: the opaque value and ".wh." name parsers. The input is
 * both an overlay.opaque value and (up to its first NUL, at most NAME_MAX
 * bytes) a directory entry name. */
#include <stdint.h>
#include <string.h>

#include "unionfuse/layer/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum uf_opaque o = uf_opaque_parse(data, size);
	if (o != UF_OPAQUE_NONE && (size != 1 || (o == UF_OPAQUE_YES) != (data[0] == 'y') ||
				    (o == UF_OPAQUE_XWHITEOUTS) != (data[0] == 'x')))
		__builtin_trap();

	char name[256];
	size_t n = strnlen((const char *)data, size < 255 ? size : 255);
	memcpy(name, data, n);
	name[n] = '\0';
	const char *target = NULL;
	enum uf_wh_name k = uf_wh_name_parse(name, &target);
	if ((k == UF_WH_NONE) == (strncmp(name, ".wh.", 4) == 0))
		__builtin_trap();
	if (k == UF_WH_TARGET) {
		/* A real name: a suffix of the entry, not "", "." or "..",
		 * and not the aufs-internal ".wh.*". */
		if (target != name + 4 || !*target || strcmp(target, ".") == 0 ||
		    strcmp(target, "..") == 0 || strncmp(target, ".wh.", 4) == 0)
			__builtin_trap();
	} else if (target) {
		__builtin_trap();
	}
	return 0;
}
