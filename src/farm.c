/* The sandbox farm: the table of sandboxes (name -> union), bringing one up
 * on its first lookup, and dropping it when idle. farmops.c routes the
 * requests. farm.h says what is shared and what is each sandbox's.
 *
 * Lock order: farm->lock, then a sandbox's own locks (types.h). The farm
 * lock is never held across a reply or a kernel notification.
 *
 * Lifetime: the kernel knows a sandbox by its root's node id (the pointer,
 * as for every inode). Its lookups of the root are counted here
 * (->root_nlookup; the union's own root count stays 1). A sandbox is dropped
 * when the kernel holds none of its inodes (root_nlookup 0 and the root
 * referenced by no child), no handle is open and no job runs, its last
 * request at least farm_idle ago. The kernel keeps unused dentries until
 * memory is short, so an idle sandbox is first invalidated (its name in the
 * farm root), which makes the kernel forget what nobody uses. */
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "unionfuse/branch.h"
#include "unionfuse/farm.h"
#include "unionfuse/farmint.h"
#include "unionfuse/inode.h"
#include "unionfuse/inval.h"
#include "unionfuse/super.h"
#include "unionfuse/util.h"

_Thread_local struct uf_fs *uf_req_fs;

bool uf_farm_wanted(const struct uf_config *c)
{
	if (!c->has_upper || c->tmpupper || c->branches->len < 1)
		return false;
	/* A %n not escaped as %%n. template_dir() then checks the rest. */
	const char *up = c->branches->pdata[0];
	for (const char *p = up; *p; p++) {
		if (p[0] == '%' && p[1] == '%')
			p++;
		else if (p[0] == '%' && p[1] == 'n')
			return true;
	}
	return false;
}

bool uf_farm_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255 || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '%' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* "DIR/%n" -> "DIR" with "%%" as "%"; any other '%' is refused. */
static int template_dir(const char *what, const char *tmpl, char **ret, char **reterr_msg)
{
	size_t n = strlen(tmpl);
	g_autoptr(GString) s = g_string_new(NULL);

	if (n < 2 || strcmp(tmpl + n - 2, "%n") != 0 || (n > 2 && tmpl[n - 3] != '/')) {
		*reterr_msg = g_strdup_printf("%s '%s': in a farm %%n must be its last component",
					      what, tmpl);
		return -EINVAL;
	}
	for (size_t i = 0; i + 3 <= n; i++) {
		if (tmpl[i] != '%') {
			g_string_append_c(s, tmpl[i]);
			continue;
		}
		if (tmpl[i + 1] != '%') {
			*reterr_msg = g_strdup_printf(
			    "%s '%s': %%n only as the last component, %%%% for a '%%'", what, tmpl);
			return -EINVAL;
		}
		g_string_append_c(s, '%');
		i++;
	}
	if (s->len == 0)
		g_string_assign(s, "/");
	*ret = g_string_free(g_steal_pointer(&s), FALSE);
	return 0;
}

static bool path_inside(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return true;
	return strncmp(inner, outer, n) == 0 && (inner[n] == '/' || inner[n] == '\0');
}

static int open_parent(const char *what, const char *dir, char **ret_real, int *ret_fd,
		       char **reterr_msg)
{
	g_autofree char *real = realpath(dir, NULL);
	int fd = real ? open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd < 0) {
		*reterr_msg = g_strdup_printf("%s directory '%s': %s", what, dir, g_strerror(errno));
		return -errno;
	}
	*ret_fd = fd;
	*ret_real = g_steal_pointer(&real);
	return 0;
}

int uf_farm_new(const struct uf_config *c, struct uf_fs **ret, char **reterr_msg)
{
	g_autofree char *updir = NULL, *workdir = NULL, *mnt = NULL;
	struct uf_farm *farm;
	struct uf_fs *base = NULL;
	int r;

	if (c->idle_timeout > 0) {
		*reterr_msg = g_strdup("-o idle_timeout does not apply to a farm "
				       "(-o farm_idle= drops idle sandboxes)");
		return -EINVAL;
	}
	r = template_dir("upper branch", c->branches->pdata[0], &updir, reterr_msg);
	if (r < 0)
		return r;
	if (c->workdir && (r = template_dir("workdir", c->workdir, &workdir, reterr_msg)) < 0)
		return r;

	farm = g_new0(struct uf_farm, 1);
	farm->parent_fd = farm->work_fd = farm->stop_fd = -1;
	g_mutex_init(&farm->lock);
	farm->sandboxes = g_hash_table_new(g_str_hash, g_str_equal);
	farm->slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	farm->create = c->farm_create;
	farm->idle = (int64_t)(c->farm_idle * G_USEC_PER_SEC);
	/* What every sandbox's configuration shares; the pointers are ours. */
	farm->tmpl = *c;
	farm->tmpl.branches = g_ptr_array_new_with_free_func(g_free);
	farm->tmpl.workdir = farm->tmpl.mountpoint = farm->tmpl.source = NULL;
	farm->tmpl.tmpupper_dir = farm->tmpl.tmpupper_size = NULL;
	farm->tmpl.fuse_args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	farm->tmpl.passthrough = 0; /* not per sandbox (yet): docs/deployments.md */
	farm->tmpl.has_upper = true;
	farm->tmpl.farm = 2;
	for (guint i = 1; i < c->branches->len; i++)
		g_ptr_array_add(farm->tmpl.branches, g_strdup(c->branches->pdata[i]));

	r = open_parent("upper branches'", updir, &farm->parent, &farm->parent_fd, reterr_msg);
	if (r < 0)
		goto fail;
	if (workdir &&
	    (r = open_parent("workdirs'", workdir, &farm->work_parent, &farm->work_fd, reterr_msg)) < 0)
		goto fail;

	/* The base: a read-only union of the lowers. It opens, checks, isolates
	 * and (main.c) locks them once for all sandboxes. */
	struct uf_config bc = farm->tmpl;
	bc.has_upper = false;
	bc.farm = 1;
	bc.mountpoint = c->mountpoint;
	r = uf_fs_new(&bc, &base, reterr_msg);
	if (r < 0)
		goto fail;
	for (unsigned i = 0; i < base->n_branches + base->n_data; i++) {
		const char *b = base->branches[i].path;
		if (path_inside(farm->parent, b) || path_inside(b, farm->parent) ||
		    (farm->work_parent &&
		     (path_inside(farm->work_parent, b) || path_inside(b, farm->work_parent)))) {
			*reterr_msg = g_strdup_printf("the sandboxes' directory overlaps branch '%s'", b);
			r = -EINVAL;
			goto fail;
		}
	}
	mnt = c->mountpoint ? realpath(c->mountpoint, NULL) : NULL;
	/* Either way a bring-up would look into the mount itself. */
	if (mnt && (path_inside(mnt, farm->parent) || path_inside(farm->parent, mnt) ||
		    (farm->work_parent && path_inside(farm->work_parent, mnt)))) {
		*reterr_msg = g_strdup_printf("mount point '%s' and the sandboxes' directory '%s' "
					      "overlap", mnt, farm->parent);
		r = -EINVAL;
		goto fail;
	}
	farm->mountpoint = g_steal_pointer(&mnt);
	farm->base = base;
	base->farm = farm;
	*ret = base;
	return 0;
fail:
	uf_fs_free(base);
	farm->base = NULL;
	uf_farm_destroy(farm);
	return r;
}

int uf_farm_branches_open(const struct uf_config *c, struct uf_branch **ret, unsigned *ret_n,
			  char **reterr_msg)
{
	const struct uf_fs *base = c->farm_base;
	struct uf_config up = { .branches = g_ptr_array_new(), .has_upper = true };
	struct uf_branch *b1 = NULL;
	unsigned n1;

	g_ptr_array_add(up.branches, c->branches->pdata[0]);
	int r = uf_branches_open(&up, &b1, &n1, reterr_msg);
	g_ptr_array_unref(up.branches);
	if (r < 0)
		return r;
	/* The farm's lowers, data-only ones included. */
	unsigned n_lower = base->n_branches + base->n_data;
	struct uf_branch *b = g_new0(struct uf_branch, 1 + n_lower);
	b[0] = b1[0];
	g_free(b1);
	for (unsigned i = 0; i < n_lower; i++) {
		b[1 + i] = base->branches[i];
		b[1 + i].path = g_strdup(base->branches[i].path);
		b[1 + i].fd = fcntl(base->branches[i].fd, F_DUPFD_CLOEXEC, 0);
		b[1 + i].index = 1 + i;
		b[1 + i].writable = false;
		if (b[1 + i].fd < 0) {
			r = -errno;
			*reterr_msg = g_strdup_printf("cannot dup a lower's fd: %s", g_strerror(-r));
			uf_branches_free(b, 2 + i);
			return r;
		}
	}
	*ret = b;
	*ret_n = 1 + n_lower;
	return 0;
}

/* The number of sandbox @name, for its st_ino values: one per name for the
 * life of the daemon, so a sandbox brought up again keeps its numbers.
 * Caller holds farm->lock. Returns 1..UF_FARM_SLOTS, or 0 when all are
 * taken. */
unsigned uf_farm_slot_locked(struct uf_farm *farm, const char *name)
{
	unsigned slot = GPOINTER_TO_UINT(g_hash_table_lookup(farm->slots, name));

	if (slot)
		return slot;
	if (farm->next_slot >= UF_FARM_SLOTS)
		return 0;
	slot = ++farm->next_slot;
	g_hash_table_insert(farm->slots, g_strdup(name), GUINT_TO_POINTER(slot));
	return slot;
}

/* Open (or with farm_create make) the upper of @name; check it is a real
 * directory, not a symlink put there. Returns 0 with its stat, or -errno. */
static int sandbox_dir(struct uf_farm *farm, int parent_fd, const char *name, bool create,
		       mode_t mode, struct stat *ret_st)
{
	if (fstatat(parent_fd, name, ret_st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || !create)
			return -errno;
		if (mkdirat(parent_fd, name, mode) < 0 && errno != EEXIST)
			return -errno;
		if (fstatat(parent_fd, name, ret_st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	(void)farm;
	return S_ISDIR(ret_st->st_mode) ? 0 : -ENOENT;
}

/* Bring sandbox @name up. Caller holds farm->lock (bring-ups are few and
 * take a millisecond: a dozen syscalls). Returns 0 or -errno. */
static int sandbox_up(struct uf_farm *farm, const char *name, struct uf_sandbox **ret)
{
	g_autofree char *err = NULL;
	struct stat st, wst;
	unsigned slot = uf_farm_slot_locked(farm, name);
	int r;

	if (!slot) {
		uf_log_limited(LOG_WARNING, "farm: all %u sandbox numbers are taken", UF_FARM_SLOTS);
		return -ENOSPC;
	}
	r = sandbox_dir(farm, farm->parent_fd, name, farm->create, 0755, &st);
	if (r < 0)
		return r;
	/* The work dir is the daemon's own: made whenever missing. */
	if (farm->work_fd >= 0 && (r = sandbox_dir(farm, farm->work_fd, name, true, 0700, &wst)) < 0)
		return r;

	struct uf_config c = farm->tmpl;
	g_autoptr(GPtrArray) branches = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *workdir = NULL;
	g_ptr_array_add(branches, g_strdup_printf("%s/%s", strcmp(farm->parent, "/") ? farm->parent : "", name));
	for (guint i = 0; i < farm->tmpl.branches->len; i++)
		g_ptr_array_add(branches, g_strdup(farm->tmpl.branches->pdata[i]));
	if (farm->work_fd >= 0)
		workdir = g_strdup_printf("%s/%s", strcmp(farm->work_parent, "/") ? farm->work_parent : "", name);
	c.branches = branches;
	c.workdir = workdir;
	c.farm_base = farm->base;

	struct uf_fs *fs = NULL;
	r = uf_fs_new(&c, &fs, &err);
	if (r < 0) {
		uf_log_limited(LOG_WARNING, "farm: sandbox '%s': %s", name, err);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	/* realpath() followed the name: it must still be what was checked. */
	if (fs->upper->dev != st.st_dev || fs->upper->ino != st.st_ino) {
		uf_log_limited(LOG_WARNING, "farm: sandbox '%s' changed while brought up", name);
		uf_fs_unmounted(fs);
		uf_fs_free(fs);
		return -ENOENT;
	}
	fs->farm = farm;
	fs->ino_salt = (uint64_t)slot << UF_FARM_SLOT_SHIFT;
	fs->pool = farm->base->pool;
	/* What the kernel agreed to at init holds for every sandbox: under
	 * KILLPRIV_V2 it leaves the killing of setuid/setgid and capabilities
	 * on write to us. */
	fs->posix_acl = farm->base->posix_acl;
	fs->killpriv_v2 = farm->base->killpriv_v2;
	fs->writeback = false;
	atomic_store(&fs->last_request, g_get_monotonic_time());
	uf_inval_start(fs, farm->base->se);

	struct uf_sandbox *sb = g_new0(struct uf_sandbox, 1);
	sb->name = g_strdup(name);
	sb->fs = fs;
	g_hash_table_insert(farm->sandboxes, sb->name, sb);
	uf_debug("farm: sandbox '%s' up (%u up)", name, g_hash_table_size(farm->sandboxes));
	*ret = sb;
	return 0;
}

int uf_farm_lookup_root(struct uf_farm *farm, const char *name, struct uf_sandbox **ret)
{
	struct stat st;

	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (!uf_farm_name_valid(name))
		return -ENOENT;
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&farm->lock);
	struct uf_sandbox *sb = g_hash_table_lookup(farm->sandboxes, name);
	if (sb) {
		/* Still there? (an admin may have removed it) */
		if (fstatat(farm->parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != sb->fs->upper->dev || st.st_ino != sb->fs->upper->ino)
			return -ENOENT;
	} else {
		int r = sandbox_up(farm, name, &sb);
		if (r < 0)
			return r;
	}
	sb->root_nlookup++;
	atomic_store(&sb->fs->last_request, g_get_monotonic_time());
	*ret = sb;
	return 0;
}

void uf_farm_root_unlookup(struct uf_farm *farm, struct uf_fs *fs, uint64_t n)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&farm->lock);
	GHashTableIter it;
	gpointer v;

	/* Few lookups of a sandbox root are forgotten: a walk is fine. */
	g_hash_table_iter_init(&it, farm->sandboxes);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct uf_sandbox *sb = v;
		if (sb->fs != fs)
			continue;
		if (UF_WARN_ON(sb->root_nlookup < n))
			n = sb->root_nlookup;
		sb->root_nlookup -= n;
		return;
	}
}

static void sandbox_free(struct uf_sandbox *sb)
{
	uf_inval_stop(sb->fs);
	sb->fs->pool = NULL; /* the farm's */
	uf_fs_unmounted(sb->fs);
	uf_fs_free(sb->fs);
	g_free(sb->name);
	g_free(sb);
}

/* Does the kernel hold any of @fs's inodes but its root? */
static bool children_known(struct uf_fs *fs)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	return fs->root->refs > 1 || g_hash_table_size(fs->inodes) ||
	       g_hash_table_size(fs->unshared) || g_hash_table_size(fs->retired);
}

static bool busy(struct uf_fs *fs, int64_t now, int64_t idle)
{
	return atomic_load(&fs->open_handles) > 0 || atomic_load(&fs->jobs) > 0 ||
	       now - atomic_load(&fs->last_request) < idle;
}

/* One pass: drop the idle sandboxes the kernel has forgotten, and ask it to
 * forget the other idle ones, unless they are in use unseen (farmuse.c). */
static void farm_scan(struct uf_farm *farm)
{
	g_autoptr(GPtrArray) drop = g_ptr_array_new();
	g_autoptr(GPtrArray) inval = g_ptr_array_new();
	int64_t now = g_get_monotonic_time();
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&farm->lock);
	g_hash_table_iter_init(&it, farm->sandboxes);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct uf_sandbox *sb = v;
		if (busy(sb->fs, now, farm->idle))
			continue;
		if (sb->root_nlookup == 0 && !children_known(sb->fs)) {
			g_hash_table_iter_remove(&it);
			g_ptr_array_add(drop, sb);
		} else if (now - sb->last_inval >= farm->idle) {
			g_ptr_array_add(inval, sb); /* only this thread frees it */
		}
	}
	g_mutex_unlock(&farm->lock);

	g_autoptr(GHashTable) used = inval->len ? uf_farm_used_names(farm) : NULL;
	for (guint i = 0; i < inval->len && used; i++) {
		struct uf_sandbox *sb = inval->pdata[i];
		/* In use: looked at again next time. */
		if (g_hash_table_contains(used, sb->name))
			continue;
		/* Without locks held: the kernel may wait for us. */
		fuse_lowlevel_notify_inval_entry(farm->base->se, FUSE_ROOT_ID, sb->name,
						 strlen(sb->name));
		sb->last_inval = now;
	}
	for (guint i = 0; i < drop->len; i++) {
		struct uf_sandbox *sb = drop->pdata[i];
		uf_debug("farm: sandbox '%s' idle: dropped", sb->name);
		sandbox_free(sb);
	}
	/* A farm's memory goes up and down with its sandboxes: give what they
	 * held back to the system (glibc keeps freed heap otherwise). */
	if (drop->len)
		malloc_trim(0);
}

static gpointer farm_thread(gpointer data)
{
	struct uf_farm *farm = data;
	/* Drop within about 1.5 farm_idle; look at least every 10 s. */
	int ms = (int)CLAMP(farm->idle / 4000, 100, 10000);

	for (;;) {
		struct pollfd p = { .fd = farm->stop_fd, .events = POLLIN };
		if (poll(&p, 1, ms) != 0)
			return NULL;
		farm_scan(farm);
	}
}

int uf_farm_start(struct uf_fs *base)
{
	struct uf_farm *farm = base->farm;

	if (!farm || farm->idle <= 0)
		return 0;
	farm->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (farm->stop_fd < 0)
		return -errno;
	farm->thread = g_thread_try_new("uf-farm", farm_thread, farm, NULL);
	return farm->thread ? 0 : -EAGAIN;
}

void uf_farm_destroy(struct uf_farm *farm)
{
	GHashTableIter it;
	gpointer v;

	if (farm->thread) {
		uint64_t one = 1;
		if (write(farm->stop_fd, &one, sizeof(one)) == sizeof(one))
			g_thread_join(farm->thread);
	}
	if (farm->stop_fd >= 0)
		close(farm->stop_fd);
	g_hash_table_iter_init(&it, farm->sandboxes);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		g_hash_table_iter_remove(&it);
		sandbox_free(v);
	}
	g_hash_table_unref(farm->sandboxes);
	g_hash_table_unref(farm->slots);
	if (farm->parent_fd >= 0)
		close(farm->parent_fd);
	if (farm->work_fd >= 0)
		close(farm->work_fd);
	g_free(farm->parent);
	g_free(farm->work_parent);
	g_free(farm->mountpoint);
	g_ptr_array_unref(farm->tmpl.branches);
	g_mutex_clear(&farm->lock);
	g_free(farm);
}

void uf_farm_free(struct uf_fs *base)
{
	if (!base || !base->farm || base->sandbox)
		return;
	uf_farm_destroy(g_steal_pointer(&base->farm));
}
