/* Lower-branch change notification. Every lower directory merged into a
 * directory inode gets an inotify watch; a thread turns each event into the
 * FUSE invalidations of the kernel's cached entry, attributes and listing.
 * So names and attributes can be cached for long (as the kernel overlayfs
 * does) and still a change made directly in a lower shows at once. The upper
 * is not watched: every change to it goes through us, like the kernel
 * overlayfs's rule that branches are not changed under a mounted union.
 *
 * The thread calls fuse_lowlevel_notify_*() holding no lock, as libfuse
 * requires; it holds a ref on each inode it names. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include "unionfuse/inode.h"
#include "unionfuse/inval.h"
#include "unionfuse/namei.h"
#include "unionfuse/notify.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

#define WATCH_MASK                                                                          \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE | \
	 IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

int uf_notify_init(struct uf_fs *fs)
{
	fs->watches = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					    (GDestroyNotify)g_ptr_array_unref);
	fs->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fs->inotify_fd < 0)
		return -errno;
	fs->notify_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (fs->notify_stop_fd < 0) {
		int r = -errno;
		close(fs->inotify_fd);
		fs->inotify_fd = -1;
		return r;
	}
	return 0;
}

/* Without notifications, fall back to short timeouts (unless the user chose). */
static void degrade(struct uf_fs *fs, const char *why)
{
	if (fs->timeout_set || fs->timeout <= 1.0)
		return;
	uf_log(LOG_WARNING, "%s: lower changes now show within 1 s", why);
	fs->timeout = 1.0;
}

void uf_notify_watch(struct uf_fs *fs, struct uf_inode *ino)
{
	char path[UF_PROC_FD_MAX];

	if (fs->inotify_fd < 0)
		return;
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	for (unsigned i = 0; i < ino->nlower; i++) {
		struct uf_layer *layer = &ino->lower[i];
		int wd = inotify_add_watch(fs->inotify_fd, uf_proc_fd(path, layer->fd), WATCH_MASK);
		if (wd < 0) {
			degrade(fs,
				"cannot watch a lower directory (fs.inotify.max_user_watches?)");
			continue;
		}
		GPtrArray *list = g_hash_table_lookup(fs->watches, GINT_TO_POINTER(wd));
		if (!list) {
			list = g_ptr_array_new();
			g_hash_table_insert(fs->watches, GINT_TO_POINTER(wd), list);
		}
		g_ptr_array_add(list, ino);
		layer->wd = wd;
	}
}

void uf_notify_unwatch_locked(struct uf_fs *fs, struct uf_inode *ino)
{
	if (!fs->watches)
		return;
	for (unsigned i = 0; i < ino->nlower; i++) {
		int wd = ino->lower[i].wd;
		if (wd < 0)
			continue;
		GPtrArray *list = g_hash_table_lookup(fs->watches, GINT_TO_POINTER(wd));
		if (list) {
			g_ptr_array_remove(list, ino);
			if (list->len == 0) {
				g_hash_table_remove(fs->watches, GINT_TO_POINTER(wd));
				inotify_rm_watch(fs->inotify_fd, wd);
			}
		}
		ino->lower[i].wd = -1;
	}
}

/* The inodes watching @wd, each with a ref. Candidates a lookup is still
 * building (watched before they are published, with no parent yet) are
 * left out: the kernel has cached nothing of them. */
static GPtrArray *watchers(struct uf_fs *fs, int wd)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	GPtrArray *list = g_hash_table_lookup(fs->watches, GINT_TO_POINTER(wd));
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; list && i < list->len; i++) {
		struct uf_inode *ino = list->pdata[i];
		if (!ino->parent && ino != fs->root)
			continue;
		ino->refs++;
		g_ptr_array_add(out, ino);
	}
	return out;
}

/* The published inode that @name in @dir shows now, with a ref. */
static struct uf_inode *child_of(struct uf_fs *fs, struct uf_inode *dir, const char *name)
{
	struct uf_layers L;
	struct stat st;
	unsigned found;

	uf_inode_layers(dir, &L);
	if (uf_find(fs, &L, name, &found, &st) < 0)
		return NULL;
	struct uf_key key = { st.st_dev, st.st_ino };
	return uf_inode_find_ref(fs, &key);
}

/* Retire held directory @dir and make the kernel look its name up again. */
static void drop_dir(struct uf_fs *fs, struct uf_inode *dir)
{
	struct uf_inode *parent;
	g_autofree char *name = NULL;

	uf_inode_retire(fs, dir);
	if (uf_inode_get_parent(fs, dir, &parent, &name) < 0)
		return;
	fuse_lowlevel_notify_inval_entry(fs->se, uf_inode_id(fs, parent), name, strlen(name));
	uf_inode_unref(fs, parent);
}

static void handle_event(struct uf_fs *fs, const struct inotify_event *ev)
{
	g_autoptr(GPtrArray) dirs = watchers(fs, ev->wd);
	const char *name = ev->len ? ev->name : NULL;

	for (guint i = 0; i < dirs->len; i++) {
		struct uf_inode *dir = dirs->pdata[i];
		fuse_ino_t id = uf_inode_id(fs, dir);

		if (name) {
			const char *shown = uf_is_wh_name(name) ? name + UF_WH_PREFIX_LEN : name;
			struct uf_inode *child = child_of(fs, dir, shown);
			if (child) {
				atomic_store(&child->xattr_none, false);
				if (S_ISDIR(child->type) &&
				    (ev->mask &
				     (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)))
					uf_inode_retire(fs, child);
				fuse_lowlevel_notify_inval_inode(fs->se, uf_inode_id(fs, child), 0,
								 0);
				uf_inode_unref(fs, child);
			}
			if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
				fuse_lowlevel_notify_inval_entry(fs->se, id, shown, strlen(shown));
		}
		/* A lower part of @dir itself moved or went (it may be reached
		 * through a redirect, from a parent no inode watches): @dir no
		 * longer merges what its name does. */
		if ((ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF)) && dir != fs->root)
			drop_dir(fs, dir);
		atomic_store(&dir->xattr_none, false);
		/* The listing, size, times of the directory itself. */
		fuse_lowlevel_notify_inval_inode(fs->se, id, 0, 0);
		uf_inode_unref(fs, dir);
	}
}

static gpointer notify_thread(gpointer data)
{
	struct uf_fs *fs = data;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2] = {
		{ .fd = fs->inotify_fd, .events = POLLIN },
		{ .fd = fs->notify_stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		ssize_t n = read(fs->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* What changed is unknown: shorter timeouts from now
				 * on, and nothing cached from before kept. */
				degrade(fs, "lost lower-branch events");
				uf_inval_all(fs);
			}
			else if (ev->wd >= 0)
				handle_event(fs, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

int uf_notify_start(struct uf_fs *fs, struct fuse_session *se)
{
	if (fs->inotify_fd < 0)
		return 0;
	fs->se = se;
	fs->notify_thread = g_thread_try_new("uf-notify", notify_thread, fs, NULL);
	if (!fs->notify_thread) {
		degrade(fs, "cannot start the notification thread");
		return -EAGAIN;
	}
	return 0;
}

void uf_notify_stop(struct uf_fs *fs)
{
	if (fs->notify_thread) {
		uint64_t one = 1;
		if (write(fs->notify_stop_fd, &one, sizeof(one)) == sizeof(one))
			g_thread_join(fs->notify_thread);
		fs->notify_thread = NULL;
	}
	if (fs->inotify_fd >= 0)
		close(fs->inotify_fd);
	if (fs->notify_stop_fd >= 0)
		close(fs->notify_stop_fd);
	fs->inotify_fd = fs->notify_stop_fd = -1;
	if (fs->watches)
		g_clear_pointer(&fs->watches, g_hash_table_unref);
}
