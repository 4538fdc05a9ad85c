/* Which sandboxes are in use in ways the daemon is never told of. An idle
 * sandbox (no request for farm_idle, no open handle) is dropped once the
 * kernel forgets its inodes, and to make the kernel forget, farm.c
 * invalidates its name in the farm root. The kernel then unhashes that
 * dentry and shrinks what is below (d_invalidate()): a process whose
 * working directory or root is inside sees it as deleted (getcwd() fails),
 * a bind mount of it cannot get mounts inside any more, and mounts inside
 * it are detached. So a sandbox is not invalidated while any process has
 * its cwd or root inside (found by st_ino: a sandbox's number is in bits
 * 40-55, farmint.h) or while a mount of the farm (a bind mount of a
 * sandbox, e.g. a jail's root) or a mount inside it exists, in any mount
 * namespace that a process we can see is in. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "unionfuse/farmint.h"
#include "unionfuse/util.h"

struct mnt {
	char *root, *point; /* unescaped */
	unsigned parent;
	char dev[32];
};

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static char *unescape(const char *s)
{
	GString *o = g_string_new(NULL);

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			g_string_append_c(o, (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0')));
			s += 3;
		} else {
			g_string_append_c(o, *s);
		}
	}
	return g_string_free(o, FALSE);
}

static void mnt_free(gpointer p)
{
	struct mnt *m = p;
	g_free(m->root);
	g_free(m->point);
	g_free(m);
}

/* Add to @names the first component of @path (a path in the farm). */
static void add_first(GHashTable *names, const char *path)
{
	while (*path == '/')
		path++;
	size_t n = strcspn(path, "/");
	if (n)
		g_hash_table_add(names, g_strndup(path, n));
}

/* Parse @text (a mountinfo). With *@dev empty, find our mount by its mount
 * point first and fill *@dev ("major:minor"). Adds to @names the sandboxes
 * that a mount of our device (other than the farm root: a bind mount) or a
 * mount on one of ours shows or sits in. */
static void scan_mountinfo(struct uf_farm *farm, const char *text, char dev[32], GHashTable *names)
{
	g_autoptr(GHashTable) mnts =
	    g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, mnt_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++) {
		unsigned id, parent;
		char devs[32], root[4097], point[4097];
		if (sscanf(*l, "%u %u %31s %4096s %4096s", &id, &parent, devs, root, point) != 5)
			continue;
		struct mnt *m = g_new0(struct mnt, 1);
		m->root = unescape(root);
		m->point = unescape(point);
		m->parent = parent;
		g_strlcpy(m->dev, devs, sizeof(m->dev));
		if (!dev[0] && strcmp(m->point, farm->mountpoint) == 0 &&
		    strstr(*l, " - fuse.unionfuse "))
			g_strlcpy(dev, devs, 32); /* the last one: the topmost */
		g_hash_table_replace(mnts, GUINT_TO_POINTER(id), m);
	}
	if (!dev[0])
		return;
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, mnts);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct mnt *m = v;
		if (strcmp(m->dev, dev) == 0)
			add_first(names, m->root); /* "/" adds nothing */
		struct mnt *p = g_hash_table_lookup(mnts, GUINT_TO_POINTER(m->parent));
		if (!p || p == m || strcmp(p->dev, dev) != 0)
			continue;
		/* m sits in the farm: at p's root, then m's point below p's. */
		size_t pl = strcmp(p->point, "/") == 0 ? 0 : strlen(p->point);
		if (strncmp(m->point, p->point, pl) != 0)
			continue;
		g_autofree char *path = g_strconcat(p->root, "/", m->point + pl, NULL);
		add_first(names, path);
	}
}

/* Add the sandbox of @what (a /proc/PID/cwd or root) when it is ours. */
static void add_proc_link(struct uf_farm *farm, int procfd, const char *what, dev_t dev,
			  GHashTable *slots)
{
	struct statx stx;

	/* DONT_SYNC: cached attributes, no request to any FUSE daemon (us). */
	if (statx(procfd, what, AT_STATX_DONT_SYNC, STATX_INO, &stx) < 0)
		return;
	if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev)
		return;
	(void)farm;
	unsigned slot = (unsigned)(stx.stx_ino >> UF_FARM_SLOT_SHIFT) & 0xffff;
	if (slot)
		g_hash_table_add(slots, GUINT_TO_POINTER(slot));
}

GHashTable *uf_farm_used_names(struct uf_farm *farm)
{
	g_autofree char *text = NULL;
	char dev[32] = "";
	unsigned maj, min;

	if (!farm->mountpoint || !g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
		return NULL;
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	scan_mountinfo(farm, text, dev, names);
	if (!dev[0] || sscanf(dev, "%u:%u", &maj, &min) != 2) {
		g_hash_table_unref(names);
		return NULL; /* not mounted (yet), or not seen: invalidate nothing */
	}
	dev_t farm_dev = makedev(maj, min);

	g_autoptr(GHashTable) slots = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_autoptr(GHashTable) namespaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	DIR *proc = opendir("/proc");
	struct dirent *de;
	while (proc && (de = readdir(proc))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int pfd = openat(dirfd(proc), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		add_proc_link(farm, pfd, "cwd", farm_dev, slots);
		add_proc_link(farm, pfd, "root", farm_dev, slots);
		char ns[64];
		ssize_t n = readlinkat(pfd, "ns/mnt", ns, sizeof(ns) - 1);
		if (n > 0) {
			ns[n] = '\0';
			if (!g_hash_table_contains(namespaces, ns)) {
				g_hash_table_add(namespaces, g_strdup(ns));
				g_autofree char *path = g_strdup_printf("/proc/%s/mountinfo", de->d_name);
				g_autofree char *mi = NULL;
				if (g_file_get_contents(path, &mi, NULL, NULL))
					scan_mountinfo(farm, mi, dev, names);
			}
		}
		close(pfd);
	}
	if (proc)
		closedir(proc);

	/* Slots to names. */
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&farm->lock);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, farm->slots);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (g_hash_table_contains(slots, v))
			g_hash_table_add(names, g_strdup(k));
	return names;
}
