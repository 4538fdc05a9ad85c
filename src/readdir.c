/* Merged readdir. A listing is built when a handle reads from offset 0 and
 * kept for the handle's life, so telldir/seekdir offsets (indexes into it)
 * stay stable; rewinddir rebuilds it. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>

#include "unionfuse/index.h"
#include "unionfuse/temp.h"
#include "unionfuse/namei.h"
#include "unionfuse/readdir.h"
#include "unionfuse/whiteout.h"
#include "unionfuse/worker.h"

struct dir_handle {
	GMutex lock;
	struct uf_listing *listing; /* ->lock */
};

void uf_listing_free(struct uf_listing *l)
{
	if (!l)
		return;
	g_array_unref(l->entries);
	g_string_chunk_free(l->names);
	g_free(l);
}

static void add_entry(struct uf_listing *l, const char *name, ino_t ino, unsigned char type)
{
	struct uf_dirent e = {
		.name = g_string_chunk_insert(l->names, name),
		.ino = ino,
		.type = type,
	};
	g_array_append_val(l->entries, e);
}

static unsigned char type_of(int dirfd, const char *name, unsigned char d_type, struct stat *st,
			     bool *ret_whiteout)
{
	*ret_whiteout = false;
	if (d_type != DT_UNKNOWN && d_type != DT_CHR)
		return d_type;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	*ret_whiteout = uf_is_whiteout(st);
	return IFTODT(st->st_mode);
}

/* The d_ino of copied-up non-dir @name in upper layer @L->v[0] (@dirfd),
 * whose own identity is @k: its origin's when it verifies, as its lookup
 * would show (index.c), so that d_ino == st_ino after a remount too. */
static void origin_ino(struct uf_fs *fs, const struct uf_layers *L, int dirfd, const char *name,
		       struct uf_key *k)
{
	struct uf_key origin;
	struct stat st;
	bool indexed;
	int diff;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    uf_origin_lookup(fs, L, 0, name, &st, &origin, &indexed, &diff) == 1)
		*k = origin;
}

/* Is upper directory @fd "impure" (the kernel's overlay.impure: a copy-up
 * or rename put objects with an origin in it)? Only there are d_ino worth
 * the origins' lookups, as in the kernel. */
static bool is_impure(struct uf_fs *fs, int fd)
{
	char v;

	return fs->origin_xattrs && fs->xattr_impure &&
	       fgetxattr(fd, fs->xattr_impure, &v, 1) == 1 && v == 'y';
}

/* Read real directory @L->v[@i] into @l. Names in @seen are hidden; names
 * this layer whites out are added to @hide for the layers below. */
static int merge_layer(struct uf_fs *fs, const struct uf_layers *L, unsigned i, bool bottom,
		       GHashTable *seen, GPtrArray *hide, struct uf_listing *l)
{
	const struct uf_layer *layer = &L->v[i];
	struct stat dst, st;
	int fd = openat(layer->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (fstat(fd, &dst) < 0) {
		int r = -errno;
		closedir(d);
		return r;
	}

	bool impure = i == 0 && fs->upper && layer->branch == 0 && L->n > 1 && is_impure(fs, fd);
	struct dirent *de;
	/* errno is readdir()'s only way to tell an error from the end: clear
	 * it before each call, as the entries' own calls set it (reaping a
	 * leftover temporary dir ends in EISDIR from its unlink). */
	for (errno = 0; (de = readdir(d)); errno = 0) {
		const char *name = de->d_name;
		bool whiteout;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (uf_is_wh_name(name)) {
			const char *target;
			if (layer->branch == 0 && fs->upper)
				uf_tmp_reap(fd, name);
			/* Only a regular ".wh.NAME" file hides NAME, as in
			 * uf_has_aufs_whiteout(). */
			if (!bottom && uf_wh_name_parse(name, &target) == UF_WH_TARGET &&
			    (de->d_type == DT_REG ||
			     (de->d_type == DT_UNKNOWN &&
			      fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      uf_format_is_aufs_whiteout(&st))))
				g_ptr_array_add(hide, g_strdup(target));
			continue;
		}
		if (g_hash_table_contains(seen, name))
			continue;
		unsigned char type = type_of(fd, name, de->d_type, &st, &whiteout);
		char *key = g_string_chunk_insert(l->names, name);
		g_hash_table_add(seen, key);
		if (whiteout)
			continue;

		struct uf_key k = { dst.st_dev, de->d_ino }, own = k;
		uf_key_resolve(fs, &k);
		if (impure && type != DT_DIR && uf_key_equal(&k, &own))
			origin_ino(fs, L, fd, name, &k);
		add_entry(l, key, uf_st_ino(fs, &k), type);
	}
	int r = errno ? -errno : 0;
	closedir(d);
	return r;
}

int uf_readdir_merge(struct uf_fs *fs, const struct uf_layers *L, ino_t self_ino, ino_t parent_ino,
		     struct uf_listing **ret)
{
	_cleanup_(uf_listing_freep) struct uf_listing *l = g_new0(struct uf_listing, 1);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) hide = g_ptr_array_new_with_free_func(g_free);

	l->entries = g_array_new(FALSE, FALSE, sizeof(struct uf_dirent));
	l->names = g_string_chunk_new(4096);
	add_entry(l, ".", self_ino, DT_DIR);
	add_entry(l, "..", parent_ino, DT_DIR);

	for (unsigned i = 0; i < L->n; i++) {
		bool bottom = L->v[i].branch == fs->n_branches - 1;
		int r = merge_layer(fs, L, i, bottom, seen, hide, l);
		if (r < 0)
			return r;
		/* aufs whiteouts apply to the layers below theirs only. */
		for (guint j = 0; j < hide->len; j++)
			g_hash_table_add(seen, g_string_chunk_insert(l->names, hide->pdata[j]));
		g_ptr_array_set_size(hide, 0);
	}
	*ret = g_steal_pointer(&l);
	return 0;
}

static ino_t parent_st_ino(struct uf_fs *fs, struct uf_inode *dir)
{
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&fs->inodes_lock);
	struct uf_inode *p = dir->parent ? dir->parent : dir;
	return uf_st_ino(fs, &p->key);
}

static int list_dir(struct uf_fs *fs, struct uf_inode *dir, struct uf_listing **ret)
{
	struct uf_layers L;

	uf_inode_layers(dir, &L);
	return uf_readdir_merge(fs, &L, uf_st_ino(fs, &dir->key), parent_st_ino(fs, dir), ret);
}

int uf_dir_is_empty(struct uf_fs *fs, struct uf_inode *dir)
{
	_cleanup_(uf_listing_freep) struct uf_listing *l = NULL;
	int r = list_dir(fs, dir, &l);
	if (r < 0)
		return r;
	return l->entries->len <= 2;
}

void uf_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *h = g_new0(struct dir_handle, 1);

	(void)ino;
	g_mutex_init(&h->lock);
	fi->fh = (uintptr_t)h;
	atomic_fetch_add(&uf_fs_from_req(req)->open_handles, 1); /* idle.c */
	/* Let the kernel keep listings: our own changes and the watched
	 * lowers' invalidate them. */
	if (uf_fs_from_req(req)->timeout > 0) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *dir = uf_inode_from_id(fs, id);
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t pos = 0;
	int r = 0;

	g_mutex_lock(&h->lock);
	if (off == 0 || !h->listing) {
		uf_listing_free(h->listing);
		h->listing = NULL;
		r = list_dir(fs, dir, &h->listing);
		if (r < 0)
			goto out;
	}
	GArray *entries = h->listing->entries;
	for (size_t i = off; i < entries->len; i++) {
		const struct uf_dirent *e = &g_array_index(entries, struct uf_dirent, i);
		size_t n;

		if (!plus) {
			struct stat st = { .st_ino = e->ino, .st_mode = DTTOIF(e->type) };
			n = fuse_add_direntry(req, buf + pos, size - pos, e->name, &st, i + 1);
			if (n > size - pos)
				break;
			pos += n;
			continue;
		}

		/* Node id 0: a plain entry, which the kernel looks up itself when
		 * it needs to. So is one whose lookup failed here (out of fds,
		 * changed meanwhile): a listing never silently loses a name. */
		struct fuse_entry_param ep = { .attr.st_ino = e->ino, .attr.st_mode = DTTOIF(e->type) };
		struct uf_inode *child = NULL;
		if (i >= 2 && uf_namei(fs, dir, e->name, &child, &ep.attr) == 0) {
			ep.ino = uf_inode_id(fs, child);
			ep.attr_timeout = uf_attr_timeout(fs, child);
			ep.entry_timeout = fs->timeout;
		}
		n = fuse_add_direntry_plus(req, buf + pos, size - pos, e->name, &ep, i + 1);
		if (n > size - pos) {
			if (child)
				uf_inode_forget(fs, child, 1);
			break;
		}
		pos += n;
	}
out:
	g_mutex_unlock(&h->lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, pos);
}

void uf_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void uf_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void uf_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;

	(void)ino;
	uf_listing_free(h->listing);
	g_mutex_clear(&h->lock);
	g_free(h);
	atomic_fetch_sub(&uf_fs_from_req(req)->open_handles, 1);
	fuse_reply_err(req, 0);
}

static void run_fsyncdir(struct uf_job *j)
{
	struct uf_fs *fs = uf_fs_from_req(j->req);
	int up = uf_inode_upper(uf_inode_from_id(fs, j->ino));
	int r = 0;

	if (up >= 0)
		r = uf_neg_errno(j->flags ? fdatasync(up) : fsync(up));
	fuse_reply_err(j->req, -r);
}

void uf_ll_fsyncdir(fuse_req_t req, fuse_ino_t id, int datasync, struct fuse_file_info *fi)
{
	if (uf_fs_from_req(req)->volatile_upper) {
		fuse_reply_err(req, 0); /* as the kernel's volatile mount */
		return;
	}
	struct uf_job *j = uf_job_new(run_fsyncdir, req);

	(void)fi;
	j->ino = id;
	j->flags = datasync;
	uf_job_submit(uf_fs_from_req(req), j);
}
