/* An LD_PRELOAD module for read-lower-swap-race.sh. A lookup makes a new
 * directory inode visible to the notify thread when it watches the inode's
 * lower directories (inotify_add_watch() under fs->inodes_lock), and
 * publishes it to the kernel right after dropping that lock. This module
 * has the thread that just added a watch sleep $UF_SLOW_INOTIFY_US
 * microseconds after its next g_mutex_unlock(), widening that window from
 * about a microsecond to a millisecond, so that a race between the two shows
 * within seconds instead of hours. Nothing else is slowed down. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

static __thread bool just_watched;

int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	static int (*real)(int, const char *, uint32_t);

	if (!real)
		real = (int (*)(int, const char *, uint32_t))dlsym(RTLD_NEXT, "inotify_add_watch");
	just_watched = true;
	return real(fd, path, mask);
}

void g_mutex_unlock(void *mutex);

void g_mutex_unlock(void *mutex)
{
	static void (*real)(void *);
	const char *us = getenv("UF_SLOW_INOTIFY_US");

	if (!real)
		real = (void (*)(void *))dlsym(RTLD_NEXT, "g_mutex_unlock");
	real(mutex);
	if (just_watched) {
		just_watched = false;
		if (us)
			usleep((useconds_t)atoi(us));
	}
}
