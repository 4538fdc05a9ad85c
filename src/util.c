/* Logging: stderr in the foreground, syslog once daemonized. */
#include <stdarg.h>
#include <stdio.h>

#include "unionfuse/util.h"

bool uf_debug_enabled;

void uf_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("unionfuse: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	(void)level;
}
