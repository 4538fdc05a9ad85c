/* Looking a name up in the union. A directory inode carries an fd for each
 * real directory merged into it, so a lookup is one fstatat() per branch
 * until the name is found, never a path walk from the root. Each step uses
 * a single name relative to a directory fd with AT_SYMLINK_NOFOLLOW/O_NOFOLLOW,
 * so a symlink inside a branch is never followed and paths may be of any
 * depth. */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "unionfuse/file.h"
#include "unionfuse/index.h"
#include "unionfuse/namei.h"
#include "unionfuse/notify.h"
#include "unionfuse/ops.h"
#include "unionfuse/metacopy.h"
#include "unionfuse/redirect.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

int uf_check_new_name(const struct uf_fs *fs, const char *name)
{
	if (strlen(name) > fs->name_max)
		return -ENAMETOOLONG;
	if (uf_is_wh_name(name))
		return -EINVAL; /* reserved by the aufs/OCI format */
	return 0;
}

int uf_find(const struct uf_fs *fs, const struct uf_layers *L, const char *name,
	    unsigned *ret_layer, struct stat *ret_st)
{
	if (strlen(name) > fs->name_max)
		return -ENAMETOOLONG;
	if (uf_is_wh_name(name))
		return -ENOENT;

	for (unsigned i = 0; i < L->n; i++) {
		int r = uf_neg_errno(fstatat(L->v[i].fd, name, ret_st, AT_SYMLINK_NOFOLLOW));
		if (r == -ENOENT) {
			if (i + 1 < L->n && uf_has_aufs_whiteout(L->v[i].fd, name))
				return -ENOENT;
			continue;
		}
		if (r < 0)
			return r;
		if (uf_is_whiteout(ret_st))
			return -ENOENT; /* even in the bottom branch, as the kernel */
		*ret_layer = i;
		return 0;
	}
	return -ENOENT;
}

int uf_name_in_lower(const struct uf_fs *fs, struct uf_inode *dir, const char *name)
{
	struct uf_layers L;
	unsigned layer;
	struct stat st;

	L.n = dir->nlower;
	if (L.n)
		memcpy(L.v, dir->lower, L.n * sizeof(L.v[0]));
	int r = uf_find(fs, &L, name, &layer, &st);
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

/* Close the lower fds gathered for a directory that will not be built. */
static void close_layers(GArray *lowers)
{
	for (unsigned i = 0; i < lowers->len; i++)
		close(g_array_index(lowers, struct uf_layer, i).fd);
	g_array_set_size(lowers, 0);
}

/* Is @fd the object @st describes? */
static bool same_object(int fd, const struct stat *st)
{
	struct stat fst;

	return fd >= 0 && fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev &&
	       fst.st_ino == st->st_ino;
}

/* Build the layers of a new directory inode whose topmost real dir is @name
 * in layer @found of @L, found as @st, following redirects branch by branch
 * (redirect.c). Returns 0, -EAGAIN when the name now holds another
 * directory, or -errno: an invalid redirect fails it as the kernel's lookup
 * does (-EINVAL, -EACCES); naming something that cannot exist ends its
 * lower parts. */
static int build_dir(struct uf_fs *fs, const struct uf_layers *L, unsigned found, const char *name,
		     const struct stat *st, struct uf_inode *cand)
{
	const struct uf_layer *top = &L->v[found];
	g_autoptr(GArray) lowers = g_array_new(FALSE, FALSE, sizeof(struct uf_layer));
	int fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* The name may hold another directory than the one found a moment
	 * ago (swapped in a lower): its identity would go with these fds. */
	if (!same_object(fd, st)) {
		close(fd);
		return -EAGAIN;
	}
	bool top_is_upper = fs->upper && top->branch == 0;
	if (top_is_upper)
		uf_inode_set_upper(cand, fd);
	else
		g_array_append_val(
		    lowers, ((struct uf_layer){ .fd = fd, .wd = -1, .branch = top->branch }));

	/* Only the upper's redirect is the inode's: a rename starts from it
	 * (uf_redirect_for_rename()); one in a lower applies below it only. */
	g_autofree char *redirect = NULL;
	int r = uf_redirect_lower_dirs(fs, L, found, name, fd, lowers, &redirect);
	if (r < 0) {
		/* cand owns an upper fd; the lowers' are ours. */
		close_layers(lowers);
		return r;
	}
	if (top_is_upper)
		cand->redirect = g_steal_pointer(&redirect);
	cand->nlower = lowers->len;
	cand->lower = (struct uf_layer *)g_array_free(g_steal_pointer(&lowers), cand->nlower == 0);
	return 0;
}

static int build_nondir(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			const char *name, const struct stat *st, struct uf_inode *cand)
{
	unsigned branch = L->v[found].branch;

	atomic_store(&cand->branch, branch);
	atomic_store(&cand->data_branch, branch);
	int r = uf_metacopy_is(fs, L->v[found].fd, name, st);
	if (r <= 0)
		return r;
	if (fs->untrusted_xattrs) {
		uf_log_limited(LOG_WARNING, "refusing to follow metacopy origin for '%s' (userxattr)",
			       name);
		return -EPERM;
	}
	return uf_metacopy_find_data(fs, L, found, name, cand);
}

/* Is @ino, found by the identity of the object @st that @name shows in layer
 * @found of @dir's layers @L, what that name shows? An identity stays with
 * its object when a lower is changed behind our back, so it can lead to an
 * inode whose layers or copy belong to another name: a directory moved or
 * swapped in a lower, a lower object shown at a new name while its copy
 * stays at the old one. */
static bool shows(struct uf_fs *fs, struct uf_inode *dir, const char *name,
		  const struct uf_layers *L, unsigned found, const struct stat *st,
		  struct uf_inode *ino)
{
	unsigned branch = L->v[found].branch;
	bool found_upper = fs->upper && branch == 0;

	if (ino->type != (st->st_mode & S_IFMT))
		return false;
	if (S_ISDIR(ino->type)) {
		if (!uf_inode_is_at(fs, ino, dir, name))
			return false;
		if (found_upper)
			return same_object(uf_inode_upper(ino), st);
		/* Its top lower part; it may be in the middle of a copy-up. */
		return ino->nlower > 0 && ino->lower[0].branch == branch &&
		       same_object(ino->lower[0].fd, st);
	}
	if (ino->unshared)
		return uf_inode_in_upper(fs, ino) == found_upper && ino->key.dev == st->st_dev &&
		       ino->key.ino == st->st_ino;
	/* index=on: a name of a lower hard link that was not copied up shows
	 * the copy its index entry holds (index.c). */
	if (!found_upper && ino->indexed && uf_inode_in_upper(fs, ino))
		return ino->key.dev == st->st_dev && ino->key.ino == st->st_ino;
	/* An upper object maps to @ino through the one record of its origin's
	 * copy, so @ino in the upper has that copy; the same lower object in
	 * the same branch is the same file (a hard link's other name). And it
	 * must be the very object @ino acts on (not a lower file shown again
	 * after its copy was removed from the upper behind our back). */
	if (found_upper ? !uf_inode_in_upper(fs, ino)
			: uf_inode_in_upper(fs, ino) || atomic_load(&ino->branch) != branch)
		return false;
	return uf_inode_is_object(fs, ino, st);
}

/* shows() once more, for a mismatch that a copy-up of @ino in progress
 * explains: the name showed the lower object just before the copy was
 * linked, or shows the upper copy before the inode knows of it; then wait
 * for the copy-up (its lock) and look the name up again. A mismatch of type
 * or, for a directory, of place no copy-up explains: that fails at once,
 * and nothing waits behind a long data copy for it. Updates *st. */
static bool shows_settled(struct uf_fs *fs, struct uf_inode *dir, const char *name,
			  struct uf_inode *ino, const struct uf_layers *L0, unsigned found0,
			  struct stat *st)
{
	bool found_upper = fs->upper && L0->v[found0].branch == 0;
	struct uf_layers L;
	struct stat nst;
	unsigned found;

	if (ino->type != (st->st_mode & S_IFMT) ||
	    (S_ISDIR(ino->type) && !uf_inode_is_at(fs, ino, dir, name)))
		return false;
	bool wait = found_upper && !uf_inode_in_upper(fs, ino);
	if (wait)
		g_mutex_lock(&ino->lock);
	uf_inode_layers(dir, &L);
	bool ok = uf_find(fs, &L, name, &found, &nst) == 0;
	if (ok) {
		struct uf_key key = { nst.st_dev, nst.st_ino };
		if (!ino->unshared)
			uf_key_resolve(fs, &key);
		ok = (ino->unshared || uf_key_equal(&key, &ino->key)) &&
		     shows(fs, dir, name, &L, found, &nst, ino);
	}
	if (wait)
		g_mutex_unlock(&ino->lock);
	if (ok)
		*st = nst;
	return ok;
}

/* A directory built from upper copy @cand takes its origin's identity
 * (@cand->key, resolved from @st) only while that origin is still its top
 * lower part: after the origin was moved away in a lower the copy merges
 * with something else, or nothing, and is its own object. */
static void check_dir_origin(struct uf_fs *fs, struct uf_inode *cand, const struct stat *st)
{
	struct uf_key own = { st->st_dev, st->st_ino };
	struct stat lst;

	if (uf_inode_upper(cand) < 0 || uf_key_equal(&own, &cand->key))
		return;
	if (cand->nlower > 0 && fstat(cand->lower[0].fd, &lst) == 0 &&
	    lst.st_dev == cand->key.dev && lst.st_ino == cand->key.ino)
		return;
	uf_origin_remove(fs, &own);
	cand->key = own;
}

/* What non-dir @cand, found as @st at @name in layer @found of @L, stands
 * for beyond its own object (index.c): an upper copy whose overlay.origin
 * verifies takes its origin's identity, so st_ino survives a remount; with
 * index=on a lower hard link whose index entry exists is that copy (its
 * attributes replace @st). Returns 0 or -errno. */
static int nondir_origin(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			 const char *name, struct stat *st, struct uf_inode *cand)
{
	struct uf_key okey, own = { st->st_dev, st->st_ino };
	bool indexed;
	int diff, pin;

	if (fs->upper && L->v[found].branch == 0) {
		if (uf_origin_lookup(fs, L, found, name, st, &okey, &indexed, &diff) <= 0)
			return 0;
		uf_origin_add(fs, &own, &okey);
		cand->key = okey;
	} else if (uf_index_wanted(fs, st)) {
		struct stat ist;
		int r = uf_index_lookup(fs, L->v[found].fd, name, L->v[found].branch, &ist, &pin,
					&diff);
		if (r <= 0)
			return r;
		indexed = true;
		cand->real = cand->data_real = (struct uf_key){ ist.st_dev, ist.st_ino };
		atomic_store(&cand->branch, 0);
		atomic_store(&cand->data_branch, 0);
		/* The copy has no name here: the pin is how it is reached. */
		cand->pin = pin;
		cand->pin_keep = true;
		uf_origin_add(fs, &cand->real, &own);
		*st = ist;
	} else {
		return 0;
	}
	cand->indexed = indexed;
	atomic_store(&cand->nlink_diff, diff);
	return 0;
}

static int namei_once(struct uf_fs *fs, struct uf_inode *dir, const char *name,
		      struct uf_inode **ret_ino, struct stat *ret_st)
{
	struct uf_inode *stale = NULL;
	struct uf_layers L;
	struct stat st;
	unsigned found;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	uf_inode_layers(dir, &L);
	int r = uf_find(fs, &L, name, &found, &st);
	if (r < 0) {
		uf_debug("lookup '%s': %s", name, g_strerror(-r));
		return r;
	}
	uf_debug("lookup '%s': mode %#o in branch %u (%s)", name, st.st_mode, L.v[found].branch,
		 fs->branches[L.v[found].branch].path);

	/* A lower hard link's key needs no resolving: only upper copies have
	 * origins. Otherwise uf_inode_find_lookup() resolves it. */
	struct uf_key key = { st.st_dev, st.st_ino };
	bool found_upper = fs->upper && L.v[found].branch == 0;
	bool unshared = fs->upper && !found_upper && !S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
			!uf_index_wanted(fs, &st);

	/* Fast path: the kernel forgot it, or it has another name here. */
	struct uf_inode *ino =
	    unshared ? uf_inode_find_dentry_lookup(fs, dir, name) : uf_inode_find_lookup(fs, &key);
	if (ino && (shows(fs, dir, name, &L, found, &st, ino) ||
		    shows_settled(fs, dir, name, ino, &L, found, &st))) {
		if (uf_inode_data_elsewhere(ino))
			uf_metacopy_blocks(fs, ino, &st);
		/* An indexed lower name: its attributes are the copy's. */
		if (!found_upper && ino->indexed && uf_inode_in_upper(fs, ino) &&
		    (r = uf_inode_stat_real(fs, ino, UF_TOP, &st)) < 0) {
			uf_inode_forget(fs, ino, 1);
			return r;
		}
		/* A hard link: the name found last is one that surely exists. */
		if (!S_ISDIR(ino->type))
			uf_inode_renamed(fs, ino, dir, name);
		uf_stat_fixup(fs, ino, &st);
		*ret_ino = ino;
		*ret_st = st;
		return 0;
	}
	/* Held (by the lookup just counted) until published over, so that
	 * its address cannot be a new inode's meanwhile. */
	stale = ino;

	struct uf_inode *cand = uf_inode_alloc(&key, st.st_mode, name);
	cand->real = cand->data_real = (struct uf_key){ st.st_dev, st.st_ino };
	cand->unshared = unshared;
	if (S_ISDIR(st.st_mode)) {
		r = build_dir(fs, &L, found, name, &st, cand);
		if (r == 0 && cand->redirect)
			uf_debug("lookup '%s': followed redirect '%s' (%u lower dirs)", name,
				 cand->redirect, cand->nlower);
	} else {
		r = build_nondir(fs, &L, found, name, &st, cand);
		if (r == 0)
			r = nondir_origin(fs, &L, found, name, &st, cand);
	}
	if (r < 0) {
		uf_inode_discard(cand);
		if (stale)
			uf_inode_forget(fs, stale, 1);
		return r;
	}
	if (S_ISDIR(cand->type))
		check_dir_origin(fs, cand, &st);
	/* Watch before anyone else can see the inode (its layers are then
	 * immutable); publish drops the watches if another inode won. */
	if (S_ISDIR(cand->type))
		uf_notify_watch(fs, cand);
	ino = uf_inode_publish_over(fs, dir, name, cand, stale);
	if (stale)
		uf_inode_forget(fs, stale, 1);
	if (uf_inode_data_elsewhere(ino))
		uf_metacopy_blocks(fs, ino, &st);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && uf_inode_in_upper(fs, ino))
		uf_inode_keep_pin(fs, ino, false); /* one of its names may go */
	uf_stat_fixup(fs, ino, &st);
	*ret_ino = ino;
	*ret_st = st;
	return 0;
}

int uf_namei(struct uf_fs *fs, struct uf_inode *dir, const char *name, struct uf_inode **ret_ino,
	     struct stat *ret_st)
{
	int r;

	/* A name changing in a lower between its stat and its open is looked
	 * up again; one that keeps changing (a hostile loop) gives up. */
	for (int tries = 0; tries < 3; tries++) {
		r = namei_once(fs, dir, name, ret_ino, ret_st);
		if (r != -EAGAIN)
			return r;
	}
	return -ESTALE;
}

void uf_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino;
	struct stat st;

	int r = uf_namei(fs, uf_inode_from_id(fs, parent), name, &ino, &st);
	if (r == -ENOENT) {
		/* A negative entry the kernel may cache as long as a positive one. */
		struct fuse_entry_param e = { .entry_timeout = fs->timeout };
		fuse_reply_entry(req, &e);
	} else if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		uf_reply_entry(req, fs, ino, &st);
	}
}

void uf_ll_forget(fuse_req_t req, fuse_ino_t id, uint64_t nlookup)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	uf_inode_forget(fs, uf_inode_from_id(fs, id), nlookup);
	fuse_reply_none(req);
}

void uf_ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	for (size_t i = 0; i < count; i++)
		uf_inode_forget(fs, uf_inode_from_id(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}
