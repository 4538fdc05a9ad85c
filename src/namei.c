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
#include "unionfuse/namei.h"
#include "unionfuse/notify.h"
#include "unionfuse/ops.h"
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

/* Build the layers of a new directory inode whose topmost real dir is @name
 * in layer @found of @L, following redirects branch by branch (redirect.c).
 * An invalid redirect fails it as the kernel's lookup does (-EINVAL,
 * -EACCES), or, naming something that cannot exist, ends its lower parts. */
static int build_dir(struct uf_fs *fs, const struct uf_layers *L, unsigned found, const char *name,
		     const struct stat *st, struct uf_inode *cand)
{
	const struct uf_layer *top = &L->v[found];
	g_autoptr(GArray) lowers = g_array_new(FALSE, FALSE, sizeof(struct uf_layer));
	struct stat fst;
	int fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* The dir opened must be the one whose attributes the kernel gets (it
	 * checks permissions on them): not another swapped in meanwhile. */
	if (fstat(fd, &fst) < 0 || !uf_same_object(&fst, &(struct uf_key){ st->st_dev, st->st_ino },
						   S_IFDIR)) {
		close(fd);
		uf_log_limited(LOG_WARNING, "directory '%s' changed during its lookup", name);
		return -ESTALE;
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

/* Is upper file @name in @dirfd a metadata-only copy? Only a file with holes
 * can be one, which spares the xattr lookup for all others. Returns 1, 0,
 * or -EIO for an invalid overlay.metacopy value, as the kernel. */
static int is_metacopy(const struct uf_fs *fs, int dirfd, const char *name, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_size == 0 || st->st_blocks * 512 >= st->st_size)
		return 0;
	g_autofree char *path = g_strdup_printf("/proc/self/fd/%d/%s", dirfd, name);
	return uf_file_get_metacopy(fs, path);
}

static int build_nondir(const struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			const char *name, const struct stat *st, struct uf_inode *cand)
{
	unsigned branch = L->v[found].branch;

	atomic_store(&cand->branch, branch);
	atomic_store(&cand->data_branch, branch);
	int r = fs->upper && branch == 0 ? is_metacopy(fs, L->v[found].fd, name, st) : 0;
	if (r <= 0)
		return r;
	/* The data is in the next lower file of that name. */
	for (unsigned i = found + 1; i < L->n; i++) {
		struct stat lst;
		if (fstatat(L->v[i].fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISREG(lst.st_mode))
			break;
		atomic_store(&cand->data_branch, L->v[i].branch);
		cand->data_real = (struct uf_key){ lst.st_dev, lst.st_ino };
		return 0;
	}
	/* As the kernel: never show the hole as the file's data. */
	uf_log_limited(LOG_WARNING, "metacopy '%s' with no lower data: EIO", name);
	return -EIO;
}

int uf_namei(struct uf_fs *fs, struct uf_inode *dir, const char *name, struct uf_inode **ret_ino,
	     struct stat *ret_st)
{
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
	bool unshared =
	    fs->upper && L.v[found].branch != 0 && !S_ISDIR(st.st_mode) && st.st_nlink > 1;

	/* Fast path: the kernel forgot it, or it has another name here. */
	struct uf_inode *ino =
	    unshared ? uf_inode_find_dentry_lookup(fs, dir, name) : uf_inode_find_lookup(fs, &key);
	/* A non-dir's inode stands for one real object: if the name now holds
	 * another (the lower file under a copy that was removed from the
	 * upper, another hard link), that is a new inode. */
	if (ino && ino->type == (st.st_mode & S_IFMT) &&
	    (S_ISDIR(ino->type) || uf_same_object(&st, &ino->real, ino->type))) {
		if (S_ISREG(ino->type) && !uf_inode_data_in_upper(fs, ino) &&
		    uf_inode_in_upper(fs, ino))
			uf_metacopy_blocks(fs, ino, &st);
		/* A hard link: the name found last is one that surely exists. */
		if (!S_ISDIR(ino->type))
			uf_inode_renamed(fs, ino, dir, name);
		uf_stat_fixup(fs, ino, &st);
		*ret_ino = ino;
		*ret_st = st;
		return 0;
	}
	if (ino)
		uf_inode_forget(fs, ino, 1);

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
	}
	if (r < 0) {
		uf_inode_discard(cand);
		return r;
	}
	/* Watch before anyone else can see the inode (its layers are then
	 * immutable); publish drops the watches if another inode won. */
	if (S_ISDIR(cand->type))
		uf_notify_watch(fs, cand);
	ino = uf_inode_publish(fs, dir, name, cand);
	if (S_ISREG(ino->type) && !uf_inode_data_in_upper(fs, ino) && uf_inode_in_upper(fs, ino))
		uf_metacopy_blocks(fs, ino, &st);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && uf_inode_in_upper(fs, ino))
		uf_inode_keep_pin(fs, ino, false); /* one of its names may go */
	uf_stat_fixup(fs, ino, &st);
	*ret_ino = ino;
	*ret_st = st;
	return 0;
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
