/* Small helpers shared by every file: errno conversion, cleanup attributes,
 * logging and invariant checks. Nothing here touches a branch. */
#pragma once

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
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

void uf_log(int level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* uf_log() for what others can trigger at will (a refused attack, hostile
 * data on a branch): a few lines a minute at most, then a count. */
void uf_log_limited(int level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

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
