/* Logging: stderr in the foreground, syslog once daemonized, and a rate
 * limit per call site for what an attacker can trigger at will. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "unionfuse/util.h"

bool uf_debug_enabled;

/* Process-wide, not per union: where log lines go is decided once in main(). */
static atomic_bool use_syslog;

/* Serialises every uf_log_limited() call site's state; logging is rare. */
static GMutex ratelimit_lock;

void uf_log_use_syslog(void)
{
	openlog("unionfuse", LOG_PID, LOG_DAEMON);
	atomic_store(&use_syslog, true);
}

/* Names and xattr values in messages come from the branches: escape control
 * characters so that a hostile name cannot forge a log line or drive a
 * terminal. */
static void log_v(int level, const char *fmt, va_list ap)
{
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	g_autoptr(GString) msg = g_string_sized_new(strlen(raw) + 16);

	for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			g_string_append_printf(msg, "\\x%02x", *p);
		else
			g_string_append_c(msg, (char)*p);
	}
	if (atomic_load(&use_syslog)) {
		syslog(level, "%s", msg->str);
		return;
	}
	g_string_prepend(msg, "unionfuse: ");
	g_string_append_c(msg, '\n');
	/* One write, so that lines of concurrent threads never interleave. */
	fwrite(msg->str, 1, msg->len, stderr);
}

void uf_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

bool uf_ratelimit_allow(struct uf_ratelimit *rl, int64_t now, unsigned *ret_missed)
{
	*ret_missed = 0;
	if (!rl->started || now - rl->begin >= UF_RATELIMIT_INTERVAL || now < rl->begin) {
		*ret_missed = rl->missed;
		rl->started = true;
		rl->begin = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < UF_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	return false;
}

void uf_log_ratelimited(struct uf_ratelimit *rl, int level, const char *fmt, ...)
{
	unsigned missed;
	bool allow;
	va_list ap;

	g_mutex_lock(&ratelimit_lock);
	allow = uf_ratelimit_allow(rl, g_get_monotonic_time(), &missed);
	g_mutex_unlock(&ratelimit_lock);
	if (missed)
		uf_log(level, "%u similar messages suppressed", missed);
	if (!allow)
		return;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}
