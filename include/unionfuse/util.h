/* Small helpers shared by every file: errno conversion, cleanup attributes,
 * logging and invariant checks. Nothing here touches a branch. */
#pragma once

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

/* Turn a libc "-1 and errno" result into "-errno", on the spot. */
static inline int uf_neg_errno(int r)
{
	return r < 0 ? -errno : r;
}

static inline ssize_t uf_neg_errno_ssize(ssize_t r)
{
	return r < 0 ? -errno : r;
}

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void uf_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(uf_closep)

static inline void uf_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(uf_freep)

#define UF_DEFINE_FREEP(type, func)                 \
	static inline void func##p(struct type **p) \
	{                                           \
		if (*p)                             \
			func(*p);                   \
	}

/* Steal an fd out of a _cleanup_close_ variable. */
static inline int uf_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

extern bool uf_debug_enabled;

/* One line at syslog @level: on stderr ("unionfuse: ...") until
 * uf_log_use_syslog(), then to syslog. Control characters in the message
 * are escaped as \xNN: names from a branch are hostile input. */
void uf_log(int level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* From now on, log to syslog (ident "unionfuse", LOG_PID, LOG_DAEMON): the
 * daemon has detached and its stderr is /dev/null. */
void uf_log_use_syslog(void);

/* Rate limit of one call site of uf_log_limited(): at most
 * UF_RATELIMIT_BURST messages per UF_RATELIMIT_INTERVAL. */
#define UF_RATELIMIT_INTERVAL (60 * G_USEC_PER_SEC) /* g_get_monotonic_time() units */
#define UF_RATELIMIT_BURST 5

struct uf_ratelimit {
	bool started;	  /* an interval has begun */
	int64_t begin;	  /* start of the current interval */
	unsigned printed; /* messages let through in it */
	unsigned missed;  /* messages suppressed in it */
};

/* May a message go out at @now (monotonic microseconds)? Counts it either
 * way. When @now starts a new interval, *ret_missed is the number suppressed
 * in the last one (to be reported), else 0. The caller serialises. */
bool uf_ratelimit_allow(struct uf_ratelimit *rl, int64_t now, unsigned *ret_missed);

/* uf_log() under the rate limit @rl; thread-safe. Before the first message
 * of a new interval it logs "N similar messages suppressed". */
void uf_log_ratelimited(struct uf_ratelimit *rl, int level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* For what a user or a branch's content can trigger at will (refused
 * attacks, hostile on-disk data): uf_log() limited per call site, so that
 * nobody can flood the log. Called as uf_log_limited(LOG_WARNING, fmt, ...). */
#define uf_log_limited(level, ...)                                              \
	do {                                                                    \
		static struct uf_ratelimit uf_log_limited_state_;               \
		uf_log_ratelimited(&uf_log_limited_state_, level, __VA_ARGS__); \
	} while (0)

#define uf_debug(...)                                   \
	do {                                            \
		if (G_UNLIKELY(uf_debug_enabled))       \
			uf_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* A broken invariant: log it once per site and let the caller return -EIO.
 * Never abort: a dead daemon is a dead mount. */
#define UF_WARN_ON(cond)                                                                           \
	({                                                                                         \
		bool __c = !!(cond);                                                               \
		if (G_UNLIKELY(__c))                                                               \
			uf_log(LOG_ERR, "%s:%d: invariant broken: %s", __FILE__, __LINE__, #cond); \
		__c;                                                                               \
	})

/* Path of an fd under /proc, for the calls that have no *at() form. */
#define UF_PROC_FD_MAX sizeof("/proc/self/fd/-2147483648")
static inline const char *uf_proc_fd(char buf[static UF_PROC_FD_MAX], int fd)
{
	g_snprintf(buf, UF_PROC_FD_MAX, "/proc/self/fd/%d", fd);
	return buf;
}
