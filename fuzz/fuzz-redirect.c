/* libFuzzer target: uf_redirect_parse(). The first byte picks NAME_MAX,
 * the rest is the xattr value. Checks that an accepted value is one the
 * daemon can follow safely: a copy of the input, one name or an absolute
 * path of names, none empty, "." or "..", none longer than NAME_MAX. */
#include <errno.h>
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "unionfuse/layer/format.h"

static void check_name(const char *s, size_t n, unsigned name_max)
{
	if (n == 0 || n > name_max || memchr(s, '/', n) || memchr(s, '\0', n))
		__builtin_trap();
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned name_max = data[0] ? data[0] : 255;
	const char *v = (const char *)data + 1;
	size_t len = size - 1;
	char *ret = NULL;

	int r = uf_redirect_parse(v, len, name_max, &ret);
	if (r != 0) {
		if ((r != -EINVAL && r != -EACCES && r != -ENAMETOOLONG) || ret)
			__builtin_trap();
		return 0;
	}
	if (!ret || strlen(ret) != len || memcmp(ret, v, len) != 0)
		__builtin_trap();
	if (ret[0] == '/') {
		const char *s = ret + 1;
		for (;;) {
			const char *next = strchr(s, '/');
			size_t n = next ? (size_t)(next - s) : strlen(s);
			check_name(s, n, name_max);
			if (!next)
				break;
			s = next + 1;
		}
	} else {
		check_name(ret, len, name_max);
	}
	/* Parsing its own output gives the same. */
	char *again = NULL;
	if (uf_redirect_parse(ret, len, name_max, &again) != 0 || strcmp(again, ret) != 0)
		__builtin_trap();
	g_free(again);
	g_free(ret);
	return 0;
}
