/* libFuzzer target: uf_params_parse(), the whole command line. The input
 * is split at NULs into argv[1..]; argv[0] is "unionfuse". The parser is
 * pure (touches no file), so any input may run. */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unionfuse/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	size_t start = 0;

	if (size > 4096)
		return 0;
	g_ptr_array_add(args, g_strdup("unionfuse"));
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\0') {
			if (i > start || i < size)
				g_ptr_array_add(args,
						g_strndup((const char *)data + start, i - start));
			start = i + 1;
		}
	}
	if (args->len > 64)
		return 0;
	g_ptr_array_add(args, NULL);

	struct uf_config c = { 0 };
	char *err = NULL;
	int r = uf_params_parse(args->len - 1, (char **)args->pdata, &c, &err);
	if (r < 0 && !err)
		__builtin_trap(); /* every refusal says why */
	if (r == 0 && !c.show_help && !c.show_version) {
		if (!c.branches || c.branches->len < 1 || !c.mountpoint)
			__builtin_trap();
		for (guint i = 0; i < c.branches->len; i++)
			if (!*(const char *)c.branches->pdata[i])
				__builtin_trap(); /* no empty branch */
	}
	g_free(err);
	uf_config_done(&c);
	return 0;
}
