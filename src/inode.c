/* The inode table. An inode is published once per identity: the (dev, ino)
 * of its origin, so hard links in one branch share one inode and a copy-up
 * keeps st_ino. Lookup counts follow the kernel's exactly; an inode lives
 * while the kernel knows it or a child points to it. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "unionfuse/inode.h"
#include "unionfuse/metacopy.h"
#include "unionfuse/inval.h"
#include "unionfuse/notify.h"
#include "unionfuse/super.h"
#include "unionfuse/util.h"

guint uf_key_hash(gconstpointer k)
{
	const struct uf_key *key = k;
	guint64 h = (guint64)key->ino * 0x9E3779B97F4A7C15ull ^ (guint64)key->dev;
	return (guint)(h ^ (h >> 32));
}

guint uf_dentry_hash(gconstpointer k)
{
	const struct uf_inode *ino = k;
	return g_direct_hash(ino->parent) ^ g_str_hash(ino->name);
}

gboolean uf_dentry_equal(gconstpointer a, gconstpointer b)
{
	const struct uf_inode *x = a, *y = b;
	return x->parent == y->parent && strcmp(x->name, y->name) == 0;
}

gboolean uf_key_equal(gconstpointer a, gconstpointer b)
{
	const struct uf_key *x = a, *y = b;
	return x->dev == y->dev && x->ino == y->ino;
}

void uf_inode_layers(struct uf_inode *ino, struct uf_layers *ret)
{
	unsigned n = 0;
	int up = uf_inode_upper(ino);

	if (up >= 0)
		ret->v[n++] = (struct uf_layer){ .fd = up, .wd = -1, .branch = 0 };
	for (unsigned i = 0; i < ino->nlower; i++)
		ret->v[n++] = ino->lower[i];
	ret->n = n;
}

bool uf_inode_is_merged(struct uf_inode *ino)
{
	if (!S_ISDIR(ino->type))
		return false;
	return ino->nlower > 1 || (ino->nlower == 1 && uf_inode_upper(ino) >= 0);
}

static unsigned dev_index(struct uf_fs *fs, dev_t dev)
{
	unsigned n = atomic_load_explicit(&fs->n_devs, memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		if (fs->devs[i] == dev)
			return i;

	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->devs_lock);
	n = atomic_load_explicit(&fs->n_devs, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (fs->devs[i] == dev)
			return i;
	if (n == UF_MAX_DEVS)
		return UF_MAX_DEVS - 1; /* shared overflow slot; see docs/design.md */
	fs->devs[n] = dev;
	atomic_store_explicit(&fs->n_devs, n + 1, memory_order_release);
	return n;
}

ino_t uf_st_ino(struct uf_fs *fs, const struct uf_key *key)
{
	unsigned idx = dev_index(fs, key->dev);

	if (idx == 0)
		return key->ino ^ fs->ino_salt;
	return (((uint64_t)idx << 56) | ((uint64_t)key->ino & ((1ull << 56) - 1))) ^ fs->ino_salt;
}

void uf_key_resolve(struct uf_fs *fs, struct uf_key *key)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	const struct uf_key *origin = g_hash_table_lookup(fs->origins, key);

	if (origin)
		*key = *origin;
}

/* Forget the record of upper object @upper, both ways. Caller holds
 * inodes_lock. */
static void origin_remove_locked(struct uf_fs *fs, const struct uf_key *upper)
{
	gpointer ukey, okey;

	if (!g_hash_table_lookup_extended(fs->origins, upper, &ukey, &okey))
		return;
	if (g_hash_table_lookup(fs->copies, okey) == ukey)
		g_hash_table_remove(fs->copies, okey);
	g_hash_table_remove(fs->origins, ukey); /* frees both keys */
}

/* Forget the record of the copy of @origin, if there is one. Caller holds
 * inodes_lock. */
static void copy_remove_locked(struct uf_fs *fs, const struct uf_key *origin)
{
	const struct uf_key *upper = g_hash_table_lookup(fs->copies, origin);

	if (upper)
		origin_remove_locked(fs, upper);
}

/* An origin has one copy: a second copy of it (its first copy's name moved
 * away in a lower, so another name showed it again) takes the identity, and
 * the first copy is its own object from then on. */
void uf_origin_add(struct uf_fs *fs, const struct uf_key *upper, const struct uf_key *origin)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	struct uf_key *u = g_memdup2(upper, sizeof(*upper));
	struct uf_key *o = g_memdup2(origin, sizeof(*origin));

	origin_remove_locked(fs, upper);
	copy_remove_locked(fs, origin);
	g_hash_table_insert(fs->origins, u, o);
	g_hash_table_insert(fs->copies, o, u);
}

void uf_origin_remove(struct uf_fs *fs, const struct uf_key *upper)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	origin_remove_locked(fs, upper);
}

void uf_stat_fixup(struct uf_fs *fs, struct uf_inode *ino, struct stat *st)
{
	if (ino->unshared && uf_inode_in_upper(fs, ino))
		st->st_ino = uf_st_ino(fs, &(struct uf_key){ st->st_dev, st->st_ino });
	else
		st->st_ino = uf_st_ino(fs, &ino->key);
	/* index=on: the union's count of a copied-up lower hard link. */
	if (ino->indexed && !S_ISDIR(ino->type) && uf_inode_in_upper(fs, ino)) {
		long long n = (long long)st->st_nlink + atomic_load(&ino->nlink_diff);
		if (n > 0)
			st->st_nlink = (nlink_t)n;
	}
	/* As the kernel: counting subdirs of a merged dir is not worth it, and
	 * nlink 1 tells find(1) not to rely on it. */
	if (uf_inode_is_merged(ino))
		st->st_nlink = 1;
	/* A setuid file of a nosuid lower is inert there: never live through
	 * a union mounted suid either (a copy-up strips the bits too). */
	if (S_ISREG(ino->type) && !uf_inode_in_upper(fs, ino) &&
	    fs->branches[atomic_load(&ino->branch)].nosuid)
		st->st_mode &= ~(S_ISUID | S_ISGID);
	uf_stat_apply_opts(fs, st); /* -o squash_to_uid= etc. */
}

int uf_dir_layer_fd(struct uf_inode *dir, unsigned branch)
{
	int up = uf_inode_upper(dir);

	if (branch == 0 && up >= 0)
		return up;
	for (unsigned i = 0; i < dir->nlower; i++)
		if (dir->lower[i].branch == branch)
			return dir->lower[i].fd;
	return -1;
}

static void table_replace_locked(struct uf_fs *fs, GHashTable *table, struct uf_inode *ino);

/* Where @which object of @ino should be: the branch, and the identity it must
 * have. Caller holds inodes_lock. */
static unsigned which_branch(struct uf_inode *ino, enum uf_which which, struct uf_key *ret_want)
{
	unsigned data = atomic_load(&ino->data_branch);

	if (which == UF_DATA && S_ISREG(ino->type) && data != atomic_load(&ino->branch)) {
		*ret_want = ino->data_real;
		return data;
	}
	*ret_want = ino->real;
	return atomic_load(&ino->branch);
}

bool uf_inode_is_object(struct uf_fs *fs, struct uf_inode *ino, const struct stat *st)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	return uf_same_object(st, &ino->real, ino->type);
}

/* A name of @ino holds another object now: say so once in a while, and have
 * the kernel look the name up again. */
static void stale(struct uf_fs *fs, struct uf_inode *ino, const char *name,
		  const struct stat *found)
{
	uf_log_limited(LOG_WARNING,
		       "'%s' changed underneath (now dev %lu ino %lu type %o): not acting on it",
		       name, (unsigned long)found->st_dev, (unsigned long)found->st_ino,
		       found->st_mode & S_IFMT);
	uf_inode_invalidate_name(fs, ino);
}

/* Where to find the @which object of non-dir @ino: a dup of its pin, its
 * name in the parent's real dir (with a ref on the parent, so the dir fd
 * stays open), or, for data reached by an absolute redirect, a path beneath
 * its branch's root (*ret_beneath). Caller holds the rename lock for
 * reading. */
static int name_of(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which,
		   struct uf_inode **ret_parent, int *ret_dirfd, char **ret_name,
		   struct uf_key *ret_want, int *ret_pin, bool *ret_beneath)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	*ret_pin = -1;
	if (UF_WARN_ON(S_ISDIR(ino->type)))
		return -EIO;
	unsigned b = which_branch(ino, which, ret_want);
	if (ino->pin >= 0 && b == atomic_load(&ino->branch)) {
		/* The pin's identity was checked when it was opened. */
		*ret_pin = fcntl(ino->pin, F_DUPFD_CLOEXEC, 0);
		return *ret_pin < 0 ? -errno : 0;
	}
	if (ino->fh && b == ino->fh_branch) {
		*ret_pin = open_by_handle_at(fs->branches[b].fd, ino->fh, O_PATH | O_CLOEXEC);
		if (*ret_pin >= 0)
			return 0;
		/* ESTALE: no name is left; the name below says so too. */
	}
	*ret_beneath = false;
	bool data = b != atomic_load(&ino->branch);
	if (data && ino->data_path && ino->data_path[0] == '/') {
		*ret_dirfd = fs->branches[b].fd; /* open as long as @fs */
		*ret_name = g_strdup(ino->data_path + 1);
		*ret_beneath = true;
		return 0;
	}
	if (!ino->parent)
		return -ESTALE;
	int fd = uf_dir_layer_fd(ino->parent, b);
	if (fd < 0)
		return -ENOENT; /* the parent no longer has that branch */
	ino->parent->refs++;
	*ret_parent = ino->parent;
	*ret_dirfd = fd;
	*ret_name = g_strdup(data && ino->data_path ? ino->data_path : ino->name);
	return 0;
}

/* O_PATH fd on @name under @dirfd, never following a symlink; with
 * @beneath @name is a path walked as a redirect is (metacopy.c). */
static int open_path(int dirfd, const char *name, bool beneath)
{
	return beneath ? uf_metacopy_open_beneath(dirfd, name)
		       : uf_neg_errno(openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

int uf_inode_locate(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which,
		    struct uf_located *ret)
{
	struct uf_inode *parent = NULL;
	g_autofree char *name = NULL;
	struct uf_key want;
	struct stat st;
	int dirfd = -1, fd = -1;
	bool beneath = false;

	*ret = (struct uf_located){ .fd = -1 };
	/* Held from the name to the fd only: a rename of ours does not make a
	 * name point elsewhere meanwhile (which would be a needless ESTALE). */
	g_rw_lock_reader_lock(&fs->rename_lock);
	int r = name_of(fs, ino, which, &parent, &dirfd, &name, &want, &fd, &beneath);
	if (r == 0 && fd < 0) {
		fd = open_path(dirfd, name, beneath);
		if (fd < 0)
			r = fd;
	}
	g_rw_lock_reader_unlock(&fs->rename_lock);
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && !uf_same_object(&st, &want, ino->type)) {
		stale(fs, ino, name ? name : "(pinned)", &st);
		r = -ESTALE;
	}
	uf_inode_unref(fs, parent);
	if (r < 0) {
		uf_closep(&fd);
		return r;
	}
	ret->fd = fd;
	uf_proc_fd(ret->path, fd);
	return 0;
}

void uf_located_done(struct uf_located *loc)
{
	uf_closep(&loc->fd);
	loc->fd = -1;
}

int uf_inode_stat_real(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which,
		       struct stat *st)
{
	struct uf_inode *parent = NULL;
	g_autofree char *name = NULL;
	struct uf_key want;
	int dirfd = -1, pin = -1;
	bool beneath = false;

	g_rw_lock_reader_lock(&fs->rename_lock);
	int r = name_of(fs, ino, which, &parent, &dirfd, &name, &want, &pin, &beneath);
	if (r == 0 && pin < 0 && beneath) {
		pin = open_path(dirfd, name, true);
		r = pin < 0 ? pin : 0;
	}
	if (r == 0)
		r = uf_neg_errno(pin >= 0 ? fstat(pin, st)
					  : fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW));
	g_rw_lock_reader_unlock(&fs->rename_lock);
	uf_closep(&pin);
	if (r == 0 && !uf_same_object(st, &want, ino->type)) {
		stale(fs, ino, name ? name : "(pinned)", st);
		r = -ESTALE;
	}
	uf_inode_unref(fs, parent);
	return r;
}

int uf_loc_open(const struct uf_located *loc, int flags)
{
	/* Reopening the O_PATH fd through /proc reopens that very inode. */
	return uf_neg_errno(open(loc->path, (flags & ~O_NOFOLLOW) | O_CLOEXEC));
}

int uf_loc_chown(const struct uf_located *loc, uid_t uid, gid_t gid)
{
	return uf_neg_errno(fchownat(loc->fd, "", uid, gid, AT_EMPTY_PATH));
}

int uf_loc_chmod(const struct uf_located *loc, mode_t mode)
{
	return uf_neg_errno(fchmodat(AT_FDCWD, loc->path, mode, 0));
}

int uf_loc_utimens(const struct uf_located *loc, const struct timespec ts[2])
{
	return uf_neg_errno(utimensat(loc->fd, "", ts, AT_EMPTY_PATH));
}

ssize_t uf_loc_readlink(const struct uf_located *loc, char *buf, size_t size)
{
	return uf_neg_errno_ssize(readlinkat(loc->fd, "", buf, size));
}

int uf_loc_link(const struct uf_located *loc, int newdirfd, const char *newname)
{
	return uf_neg_errno(linkat(AT_FDCWD, loc->path, newdirfd, newname, AT_SYMLINK_FOLLOW));
}

/* Keep a file handle of @ino's object, found by name in @dirfd of branch
 * @branch, if it is the object the inode stands for. Caller holds inodes_lock. */
static bool handle_locked(struct uf_fs *fs, struct uf_inode *ino, int dirfd, unsigned branch)
{
	struct file_handle *fh = g_malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	struct stat st;
	int mnt_id;

	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, ino->name, fh, &mnt_id, 0) < 0) {
		g_free(fh);
		return false;
	}
	/* The name may have changed between the two calls: check what the
	 * handle names. */
	int fd = open_by_handle_at(fs->branches[branch].fd, fh, O_PATH | O_CLOEXEC);
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && uf_same_object(&st, &ino->real, ino->type);
	if (fd >= 0)
		close(fd);
	if (!ok) {
		g_free(fh);
		return false;
	}
	ino->fh = g_realloc(fh, sizeof(*fh) + fh->handle_bytes);
	ino->fh_branch = branch;
	return true;
}

/* Give @ino a way to its object that does not depend on its name: an O_PATH
 * pin, or for @lasting pins where handles work, a file handle. Only the
 * object the inode stands for is pinned. Caller holds inodes_lock. */
static void pin_locked(struct uf_fs *fs, struct uf_inode *ino, bool lasting)
{
	struct stat st;

	if (ino->pin >= 0 || (lasting && ino->fh) || !ino->parent)
		return;
	unsigned branch = uf_inode_in_upper(fs, ino) ? 0 : atomic_load(&ino->branch);
	int dirfd = uf_dir_layer_fd(ino->parent, branch);
	if (dirfd < 0)
		return;
	if (lasting && fs->handles && handle_locked(fs, ino, dirfd, branch))
		return;
	int fd = openat(dirfd, ino->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !uf_same_object(&st, &ino->real, ino->type))) {
		close(fd);
		fd = -1; /* not the object we know: no pin, locate() will say so */
	}
	ino->pin = fd;
}

void uf_inode_open_pin(struct uf_fs *fs, struct uf_inode *ino)
{
	if (S_ISDIR(ino->type))
		return;
	g_rw_lock_reader_lock(&fs->rename_lock);
	g_mutex_lock(&fs->inodes_lock);
	ino->nopen++;
	/* An fd: a handle no longer opens a file unlinked while open. */
	pin_locked(fs, ino, false);
	g_mutex_unlock(&fs->inodes_lock);
	g_rw_lock_reader_unlock(&fs->rename_lock);
}

void uf_inode_open_unpin(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	if (S_ISDIR(ino->type) || UF_WARN_ON(ino->nopen == 0))
		return;
	if (--ino->nopen == 0 && (!ino->pin_keep || ino->fh) && ino->pin >= 0) {
		close(ino->pin);
		ino->pin = -1;
	}
}

void uf_inode_keep_pin(struct uf_fs *fs, struct uf_inode *ino, bool last_name)
{
	if (S_ISDIR(ino->type))
		return;
	g_rw_lock_reader_lock(&fs->rename_lock);
	g_mutex_lock(&fs->inodes_lock);
	if (!ino->pin_keep || (last_name && ino->pin < 0)) {
		ino->pin_keep = true;
		/* A handle opens nothing once the last name is gone. */
		pin_locked(fs, ino, !last_name);
	}
	g_mutex_unlock(&fs->inodes_lock);
	g_rw_lock_reader_unlock(&fs->rename_lock);
}

void uf_inode_adopt_upper(struct uf_fs *fs, struct uf_inode *ino, const struct uf_key *upper)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	if (g_hash_table_lookup(fs->unshared, ino) == ino)
		g_hash_table_remove(fs->unshared, ino);
	ino->key = ino->real = *upper;
	table_replace_locked(fs, fs->inodes, ino);
}

int uf_inode_pin_unnamed(struct uf_fs *fs, struct uf_inode *ino, int fd)
{
	char path[UF_PROC_FD_MAX];
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	ino->unlinked = true;
	if (ino->pin >= 0)
		return 0;
	ino->pin = open(uf_proc_fd(path, fd), O_PATH | O_CLOEXEC);
	return ino->pin < 0 ? -errno : 0;
}

void uf_inode_set_unlinked(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	ino->unlinked = true;
}

bool uf_inode_is_unlinked(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	return ino->unlinked;
}

void uf_inode_repin(struct uf_fs *fs, struct uf_inode *ino)
{
	g_rw_lock_reader_lock(&fs->rename_lock);
	g_mutex_lock(&fs->inodes_lock);
	if (ino->pin >= 0 || ino->fh) {
		bool lasting = ino->fh != NULL || ino->nopen == 0;
		uf_closep(&ino->pin);
		ino->pin = -1;
		g_clear_pointer(&ino->fh, g_free);
		pin_locked(fs, ino, lasting);
	}
	g_mutex_unlock(&fs->inodes_lock);
	g_rw_lock_reader_unlock(&fs->rename_lock);
}

static int open_which(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which, int flags)
{
	struct uf_located loc;

	if (S_ISDIR(ino->type))
		return uf_neg_errno(openat(uf_inode_top_fd(ino), ".", flags | O_CLOEXEC));
	int r = uf_inode_locate(fs, ino, which, &loc);
	if (r < 0)
		return r;
	r = uf_loc_open(&loc, flags);
	uf_located_done(&loc);
	return r;
}

int uf_inode_open(struct uf_fs *fs, struct uf_inode *ino, int flags)
{
	return open_which(fs, ino, UF_TOP, flags);
}

int uf_inode_open_data(struct uf_fs *fs, struct uf_inode *ino, int flags)
{
	return open_which(fs, ino, UF_DATA, flags);
}

/* A metadata-only copy has no blocks of its own: show its data's. */
void uf_metacopy_blocks(struct uf_fs *fs, struct uf_inode *ino, struct stat *st)
{
	struct stat dst;

	if (uf_inode_stat_real(fs, ino, UF_DATA, &dst) == 0)
		st->st_blocks = dst.st_blocks;
}

int uf_inode_stat(struct uf_fs *fs, struct uf_inode *ino, struct stat *st)
{
	int r;

	if (S_ISDIR(ino->type)) {
		/* Not in the middle of a copy-up into it, between its link and
		 * the restoring of the dir's times (copyup.c). */
		g_mutex_lock(&ino->lock);
		r = uf_neg_errno(fstat(uf_inode_top_fd(ino), st));
		g_mutex_unlock(&ino->lock);
	} else {
		r = uf_inode_stat_real(fs, ino, UF_TOP, st);
		if (r == 0 && uf_inode_data_elsewhere(ino))
			uf_metacopy_blocks(fs, ino, st);
	}
	if (r < 0)
		return r;
	uf_stat_fixup(fs, ino, st);
	return 0;
}

struct uf_inode *uf_inode_alloc(const struct uf_key *key, mode_t type, const char *name)
{
	size_t len = strlen(name);
	size_t cap = MAX(len + 1, 8u); /* room for a slightly longer name later */
	struct uf_inode *ino = g_malloc0(sizeof(*ino) + cap);

	G_STATIC_ASSERT(offsetof(struct uf_inode, key) == 0);
	ino->key = *key;
	ino->real = ino->data_real = *key;
	ino->type = type & S_IFMT;
	atomic_init(&ino->upper, -1);
	atomic_init(&ino->branch, 0);
	atomic_init(&ino->data_branch, 0);
	ino->pin = -1;
	ino->refs = 1; /* the builder's, until published */
	ino->name_cap = (uint8_t)MIN(cap, 255u);
	memcpy(ino->name_buf, name, len + 1);
	ino->name = ino->name_buf;
	g_mutex_init(&ino->lock);
	return ino;
}

static void set_name(struct uf_inode *ino, const char *name)
{
	size_t len = strlen(name);

	if (ino->name != ino->name_buf)
		g_free(ino->name);
	if (len < ino->name_cap) {
		memcpy(ino->name_buf, name, len + 1);
		ino->name = ino->name_buf;
	} else {
		ino->name = g_strdup(name);
	}
}

void uf_inode_free(struct uf_inode *ino)
{
	int up = uf_inode_upper(ino);

	if (up >= 0)
		close(up);
	if (ino->pin >= 0)
		close(ino->pin);
	g_free(ino->fh);
	for (unsigned i = 0; i < ino->nlower; i++)
		close(ino->lower[i].fd);
	g_free(ino->lower);
	if (ino->name != ino->name_buf)
		g_free(ino->name);
	g_free(ino->redirect);
	g_free(ino->data_path);
	g_mutex_clear(&ino->lock);
	g_free(ino);
}

void uf_inode_discard(struct uf_inode *ino)
{
	if (ino)
		uf_inode_free(ino);
}

/* Drop one ref; free the inode and walk up while parents drop to zero.
 * Caller holds inodes_lock. */
static void unref_locked(struct uf_fs *fs, struct uf_inode *ino)
{
	while (ino) {
		if (UF_WARN_ON(ino->refs == 0))
			return;
		if (--ino->refs > 0 || ino == fs->root)
			return;
		struct uf_inode *parent = ino->parent;
		if (g_hash_table_lookup(fs->inodes, &ino->key) == ino)
			g_hash_table_remove(fs->inodes, &ino->key);
		if (ino->unshared && g_hash_table_lookup(fs->unshared, ino) == ino)
			g_hash_table_remove(fs->unshared, ino);
		g_hash_table_remove(fs->retired, ino);
		uf_notify_unwatch_locked(fs, ino);
		uf_inode_free(ino);
		ino = parent;
	}
}

static void count_lookup_locked(struct uf_inode *ino)
{
	if (ino->nlookup++ == 0)
		ino->refs++;
}

/* Put @ino in @table, in the place of any inode with its key; that one
 * lives on while the kernel knows it, in fs->retired. Caller holds
 * inodes_lock. */
static void table_replace_locked(struct uf_fs *fs, GHashTable *table, struct uf_inode *ino)
{
	struct uf_inode *old = g_hash_table_lookup(table, ino);

	if (old && old != ino)
		g_hash_table_add(fs->retired, old);
	g_hash_table_replace(table, ino, ino);
}

/* Is @ino the directory @name of @dir? A directory has one name, so one
 * found by its identity under another (parent, name) was moved behind our
 * back, and its layers are no longer what that name merges. Caller holds
 * inodes_lock. */
static bool is_at_locked(struct uf_inode *ino, struct uf_inode *dir, const char *name)
{
	return ino->parent == dir && strcmp(ino->name, name) == 0;
}

bool uf_inode_is_at(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		    const char *name)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	return is_at_locked(ino, dir, name);
}

struct uf_inode *uf_inode_publish(struct uf_fs *fs, struct uf_inode *dir, const char *name,
				  struct uf_inode *cand)
{
	return uf_inode_publish_over(fs, dir, name, cand, NULL);
}

struct uf_inode *uf_inode_publish_over(struct uf_fs *fs, struct uf_inode *dir, const char *name,
				       struct uf_inode *cand, struct uf_inode *stale)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	cand->fs = fs;
	struct uf_inode *old = g_hash_table_lookup(
	    cand->unshared ? fs->unshared : fs->inodes,
	    cand->unshared
		? (gconstpointer) & (struct uf_inode){ .parent = dir, .name = (char *)name }
		: &cand->key);

	/* The same object as before is the same inode: for a dir, the one at
	 * this place; for a non-dir, the same real object, not only the same
	 * origin. */
	if (old && old != stale && old->type == cand->type &&
	    (S_ISDIR(old->type) ? is_at_locked(old, dir, name)
				: uf_key_equal(&old->real, &cand->real))) {
		count_lookup_locked(old);
		/* Drop the builder's ref: the notify thread may hold another,
		 * having found @cand through its watches. */
		uf_notify_unwatch_locked(fs, cand);
		unref_locked(fs, cand);
		return old;
	}
	/* A stale entry (of another type: the real inode was reused behind
	 * our back; or moved in a lower) just loses its table slot; it lives
	 * on until forgotten. */
	cand->parent = dir;
	dir->refs++;
	if (strcmp(cand->name, name) != 0)
		set_name(cand, name);
	/* A lower object shows at a name as itself: a copy of it elsewhere
	 * (its copy's name was moved away in the lower) is no longer its
	 * copy, or two names would share one identity and st_ino. */
	if (!cand->unshared && !uf_inode_in_upper(fs, cand))
		copy_remove_locked(fs, &cand->key);
	/* The builder's ref becomes the kernel's lookup. */
	if (!UF_WARN_ON(cand->nlookup != 0 || cand->refs == 0))
		cand->nlookup = 1;
	table_replace_locked(fs, cand->unshared ? fs->unshared : fs->inodes, cand);
	return cand;
}

void uf_inode_retire(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	/* An unshared inode is filed by its name until its copy-up adopts it. */
	if (g_hash_table_lookup(fs->inodes, &ino->key) == ino)
		g_hash_table_remove(fs->inodes, ino);
	else if (ino->unshared && g_hash_table_lookup(fs->unshared, ino) == ino)
		g_hash_table_remove(fs->unshared, ino);
	else
		return;
	g_hash_table_add(fs->retired, ino);
}

void uf_inode_count_lookup(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	count_lookup_locked(ino);
}

struct uf_inode *uf_inode_find_dentry_lookup(struct uf_fs *fs, struct uf_inode *dir,
					     const char *name)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	struct uf_inode probe = { .parent = dir, .name = (char *)name };
	struct uf_inode *ino = g_hash_table_lookup(fs->unshared, &probe);

	if (ino)
		count_lookup_locked(ino);
	return ino;
}

struct uf_inode *uf_inode_find_ref(struct uf_fs *fs, struct uf_key *key)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	const struct uf_key *origin = g_hash_table_lookup(fs->origins, key);

	if (origin)
		*key = *origin;
	struct uf_inode *ino = g_hash_table_lookup(fs->inodes, key);

	if (ino)
		ino->refs++;
	return ino;
}

struct uf_inode *uf_inode_find_lookup(struct uf_fs *fs, struct uf_key *key)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	const struct uf_key *origin = g_hash_table_lookup(fs->origins, key);

	if (origin)
		*key = *origin;
	struct uf_inode *ino = g_hash_table_lookup(fs->inodes, key);

	if (ino)
		count_lookup_locked(ino);
	return ino;
}

void uf_inode_forget(struct uf_fs *fs, struct uf_inode *ino, uint64_t n)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	if (ino == fs->root)
		return;
	if (UF_WARN_ON(ino->nlookup < n))
		n = ino->nlookup;
	ino->nlookup -= n;
	if (ino->nlookup == 0 && n > 0)
		unref_locked(fs, ino);
}

void uf_inode_unref(struct uf_fs *fs, struct uf_inode *ino)
{
	if (!ino)
		return;
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	unref_locked(fs, ino);
}

void uf_inode_set_upper(struct uf_inode *ino, int fd)
{
	if (UF_WARN_ON(uf_inode_upper(ino) >= 0)) {
		close(fd);
		return;
	}
	atomic_store_explicit(&ino->upper, fd, memory_order_release);
}

void uf_inode_set_in_upper(struct uf_fs *fs, struct uf_inode *ino, const struct uf_key *upper,
			   unsigned data_branch)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	/* Until now the data was where the object was. */
	/* Until now the data was where the object was, or (a metacopy file
	 * below) where it led. */
	if (!data_branch)
		g_clear_pointer(&ino->data_path, g_free);
	if (data_branch == atomic_load(&ino->branch))
		ino->data_real = ino->real;
	else if (!data_branch)
		ino->data_real = *upper;
	ino->real = *upper;
	atomic_store_explicit(&ino->data_branch, data_branch, memory_order_release);
	atomic_store_explicit(&ino->branch, 0, memory_order_release);
}

void uf_inode_renamed(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		      const char *name)
{
	{
		g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
		if (ino->parent == dir && strcmp(ino->name, name) == 0)
			return;
	}
	uf_inode_move(fs, ino, dir, name);
}

void uf_inode_move(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *newdir,
		   const char *newname)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	struct uf_inode *old = ino->parent;

	if (ino == fs->root)
		return;
	newdir->refs++;
	/* The (parent, name) key of an unshared inode changes: re-file it. */
	bool filed = ino->unshared && g_hash_table_lookup(fs->unshared, ino) == ino;
	if (filed)
		g_hash_table_remove(fs->unshared, ino);
	ino->parent = newdir;
	set_name(ino, newname);
	if (filed)
		g_hash_table_replace(fs->unshared, ino, ino);
	if (old)
		unref_locked(fs, old);
}

int uf_inode_get_parent(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode **ret_parent,
			char **ret_name)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);

	if (ino == fs->root || !ino->parent)
		return -ENOENT;
	ino->parent->refs++;
	*ret_parent = ino->parent;
	*ret_name = g_strdup(ino->name);
	return 0;
}

char *uf_inode_lower_path(struct uf_fs *fs, struct uf_inode *ino)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	GString *path = g_string_new(NULL);

	/* Build leaf-first, then reverse by prepending each component. */
	for (; ino && ino != fs->root; ino = ino->parent) {
		/* An absolute redirect ends the walk; a relative one (the kernel
		 * writes those for renames within a dir) replaces the name. */
		if (ino->redirect && ino->redirect[0] == '/') {
			g_string_prepend(path, ino->redirect);
			return g_string_free(path, FALSE);
		}
		g_string_prepend(path, ino->redirect ? ino->redirect : ino->name);
		g_string_prepend_c(path, '/');
	}
	if (path->len == 0)
		g_string_assign(path, "/");
	return g_string_free(path, FALSE);
}
