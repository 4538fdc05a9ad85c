/* Branch locks: the shared lock each mount holds on its lowers, and finding
 * who holds a lock, for the messages of a mount that waits and of
 * `unionfuse lock` (branchlock.h has the scheme). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/util.h"

#define POLL_USEC (100 * 1000)

/* "COMMAND ARGS..." of @pid, NUL bytes as spaces, at most 200 bytes. */
static char *cmdline_of(const char *pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", pid);
	g_autofree char *buf = NULL;
	gsize n = 0;

	if (!g_file_get_contents(path, &buf, &n, NULL) || n == 0)
		return g_strdup("?");
	if (n > 200)
		n = 200;
	for (gsize i = 0; i < n; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
	return g_strchomp(g_strndup(buf, n));
}

/* Does the fdinfo text @info hold a flock on (@dev, @ino) (of LOCK_EX only
 * when @exclusive_only)? Lines: "lock:\t1: FLOCK  ADVISORY  WRITE 123 08:01:456 0 EOF". */
static bool fdinfo_locks(const char *info, dev_t dev, ino_t ino, bool exclusive_only)
{
	for (const char *l = strstr(info, "lock:"); l; l = strstr(l + 1, "\nlock:")) {
		char kind[16], mode[16];
		unsigned maj, min;
		unsigned long i;
		int pid;

		if (*l == '\n')
			l++;
		if (sscanf(l, "lock: %*d: %15s %*15s %15s %d %x:%x:%lu", kind, mode, &pid, &maj,
			   &min, &i) != 6)
			continue;
		if (strcmp(kind, "FLOCK") != 0 || maj != major(dev) || min != minor(dev) ||
		    i != ino)
			continue;
		if (!exclusive_only || strcmp(mode, "WRITE") == 0)
			return true;
	}
	return false;
}

char *uf_lock_holders(dev_t dev, ino_t ino, bool exclusive_only)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree char *self = g_strdup_printf("%d", getpid());
	DIR *proc = opendir("/proc");

	if (!proc)
		return NULL;
	for (struct dirent *p; (p = readdir(proc));) {
		if (!g_ascii_isdigit(p->d_name[0]) || strcmp(p->d_name, self) == 0)
			continue;
		g_autofree char *dir = g_strdup_printf("/proc/%s/fdinfo", p->d_name);
		DIR *fds = opendir(dir);
		if (!fds)
			continue;
		bool found = false;
		for (struct dirent *f; !found && (f = readdir(fds));) {
			g_autofree char *path = NULL, *info = NULL;
			if (f->d_name[0] == '.')
				continue;
			path = g_strdup_printf("%s/%s", dir, f->d_name);
			found = g_file_get_contents(path, &info, NULL, NULL) &&
				fdinfo_locks(info, dev, ino, exclusive_only);
		}
		closedir(fds);
		if (found) {
			g_autofree char *cmd = cmdline_of(p->d_name);
			g_string_append_printf(out, "%spid %s (%s)", out->len ? ", " : "",
					       p->d_name, cmd);
		}
	}
	closedir(proc);
	return out->len ? g_string_free(g_steal_pointer(&out), FALSE) : NULL;
}

static int lock_one(const struct uf_branch *b, double wait, char **reterr_msg)
{
	if (flock(b->fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK) {
		int e = errno;
		*reterr_msg = g_strdup_printf("cannot lock branch '%s': %s (-o nolock mounts "
					      "without the lock)", b->path, g_strerror(e));
		return -e;
	}
	g_autofree char *who = uf_lock_holders(b->dev, b->ino, true);
	if (!who)
		who = g_strdup("another process");
	if (wait == 0) {
		*reterr_msg = g_strdup_printf("branch '%s' is locked by %s: not mounted "
					      "(-o lock_wait=0)", b->path, who);
		return -EWOULDBLOCK;
	}
	uf_log(LOG_NOTICE, "branch '%s' is locked by %s: waiting for it%s", b->path, who,
	       wait < 0 ? " (-o lock_wait=SECONDS gives up)" : "");
	int64_t deadline = g_get_monotonic_time() + (int64_t)(wait * G_USEC_PER_SEC);
	while (flock(b->fd, LOCK_SH | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK || (wait >= 0 && g_get_monotonic_time() >= deadline)) {
			int e = errno == EWOULDBLOCK ? ETIMEDOUT : errno;
			*reterr_msg = g_strdup_printf("branch '%s' is still locked by %s after %g s "
						      "(-o lock_wait=): not mounted",
						      b->path, who, wait);
			return -e;
		}
		g_usleep(POLL_USEC);
	}
	uf_log(LOG_NOTICE, "branch '%s' is unlocked: mounting", b->path);
	return 0;
}

int uf_branches_lock_shared(struct uf_fs *fs, double wait, char **reterr_msg)
{
	for (unsigned i = fs->upper ? 1 : 0; i < fs->n_branches + fs->n_data; i++) {
		int r = lock_one(&fs->branches[i], wait, reterr_msg);
		if (r < 0)
			return r;
	}
	return 0;
}
