/* -o idle_timeout=SECONDS: the daemon unmounts its union once it is idle.
 *
 * Idle means all of: no request read for SECONDS (io.c notes each one,
 * FORGETs and RELEASEs included), no file or directory handle open (the
 * kernel holds one for each open(2)ed fd and each mmap), no request queued
 * or running on the worker pool, and the kernel agrees: the unmount is a
 * plain, not a lazy one (umount2() without MNT_DETACH; fusermount3 -u
 * without -z when not root), so a process whose working directory or root
 * is inside the union, or a mount on top of it, makes it fail with EBUSY.
 * The kernel sends no request for a working directory, so the daemon could
 * not see one otherwise; such a union stays mounted and is tried again
 * SECONDS later. A lazy unmount would cut such a process off instead.
 *
 * The unmount runs on this thread while the request loop goes on serving:
 * the kernel may need it to write back dirty pages before the mount goes.
 * Once the mount is gone the kernel ends the connection, the loop returns,
 * and main() tears down as after fusermount3 -u. */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>

#include "unionfuse/idle.h"
#include "unionfuse/util.h"

struct uf_idle {
	int64_t timeout; /* microseconds */
	char *mountpoint; /* absolute */
	int stop_fd;	  /* eventfd: uf_idle_stop() */
	GThread *thread;
};

int uf_idle_init(struct uf_fs *fs, const struct uf_config *c, char **reterr_msg)
{
	if (c->idle_timeout <= 0)
		return 0;
	g_autofree char *mnt = realpath(c->mountpoint, NULL);
	if (!mnt) {
		int e = errno;
		*reterr_msg = g_strdup_printf("mount point '%s': %s", c->mountpoint, g_strerror(e));
		return -e;
	}
	struct uf_idle *idle = g_new0(struct uf_idle, 1);
	idle->timeout = (int64_t)(c->idle_timeout * G_USEC_PER_SEC);
	idle->mountpoint = g_steal_pointer(&mnt);
	idle->stop_fd = -1;
	fs->idle = idle;
	return 0;
}

/* Unmount, plainly. Returns 0, -EBUSY while in use, or another -errno. */
static int unmount_plain(const char *mnt)
{
	if (geteuid() == 0)
		return uf_neg_errno(umount2(mnt, UMOUNT_NOFOLLOW));
	/* fusermount3 -u (no -z): umount2(mnt, 0) for the mounting user. */
	const char *argv[] = { "fusermount3", "-u", "-q", "--", mnt, NULL };
	int status = 0;
	if (!g_spawn_sync("/", (char **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
			      G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL, NULL, NULL, NULL, &status, NULL))
		return -ENOENT;
	return g_spawn_check_wait_status(status, NULL) ? 0 : -EBUSY;
}

static bool busy(struct uf_fs *fs)
{
	return atomic_load(&fs->open_handles) > 0 || atomic_load(&fs->jobs) > 0;
}

static gpointer idle_thread(gpointer data)
{
	struct uf_fs *fs = data;
	struct uf_idle *idle = fs->idle;
	int64_t since = g_get_monotonic_time(); /* of the last failed try */

	for (;;) {
		int64_t now = g_get_monotonic_time();
		int64_t last = MAX(atomic_load(&fs->last_request), since);
		int64_t left = last + idle->timeout - now;

		if (left <= 0 && busy(fs))
			left = MIN(idle->timeout, G_USEC_PER_SEC); /* look again soon */
		if (left <= 0) {
			int r = unmount_plain(idle->mountpoint);
			if (r == 0) {
				uf_log(LOG_NOTICE, "idle for %g s: unmounted %s",
				       (double)idle->timeout / G_USEC_PER_SEC, idle->mountpoint);
				return NULL;
			}
			if (r != -EBUSY) {
				uf_log(LOG_WARNING, "idle: cannot unmount %s: %s; no longer trying",
				       idle->mountpoint, g_strerror(-r));
				return NULL;
			}
			uf_debug("idle but in use (a working directory or a mount inside?): %s",
				 idle->mountpoint);
			since = g_get_monotonic_time();
			continue;
		}
		struct pollfd p = { .fd = idle->stop_fd, .events = POLLIN };
		if (poll(&p, 1, (int)MIN(left / 1000 + 1, 60 * 1000)) > 0)
			return NULL;
	}
}

int uf_idle_start(struct uf_fs *fs)
{
	if (!fs->idle)
		return 0;
	fs->idle->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fs->idle->stop_fd < 0)
		return -errno;
	fs->idle->thread = g_thread_try_new("uf-idle", idle_thread, fs, NULL);
	return fs->idle->thread ? 0 : -EAGAIN;
}

void uf_idle_stop(struct uf_fs *fs)
{
	struct uf_idle *idle = fs ? fs->idle : NULL;

	if (!idle)
		return;
	if (idle->thread) {
		uint64_t one = 1;
		if (write(idle->stop_fd, &one, sizeof(one)) < 0)
			uf_debug("idle: cannot stop the thread: %s", g_strerror(errno));
		g_thread_join(idle->thread);
	}
	if (idle->stop_fd >= 0)
		close(idle->stop_fd);
	g_free(idle->mountpoint);
	g_free(idle);
	fs->idle = NULL;
}
