/* The farm's FUSE handlers: the farm root (FUSE_ROOT_ID), a synthetic
 * read-only directory listing the sandboxes, and for every other node id
 * the union it belongs to (ino->fs), for which the ordinary handler runs
 * with uf_req_fs set: uf_fs_from_req() then finds that union. Worker jobs
 * carry their union (worker.c). Two node ids of different sandboxes in one
 * request (rename, link, copy_file_range) are EXDEV, as across mounts. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>

#include "unionfuse/farm.h"
#include "unionfuse/farmint.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/ops.h"
#include "unionfuse/readdir.h"
#include "unionfuse/util.h"

/* The farm root's entries are looked up again after this long, so that a
 * sandbox removed by its admin goes away from the kernel's cache. */
#define FARM_ENTRY_TIMEOUT 1.0

static struct uf_farm *farm_of(fuse_req_t req)
{
	return ((struct uf_fs *)fuse_req_userdata(req))->farm;
}

static struct uf_fs *fs_of(fuse_ino_t id)
{
	return ((struct uf_inode *)(uintptr_t)id)->fs;
}

/* Route the request for node @id to its sandbox; undone by leave(). */
static void enter(fuse_ino_t id)
{
	struct uf_fs *fs = fs_of(id);

	uf_req_fs = fs;
	atomic_store_explicit(&fs->last_request, g_get_monotonic_time(), memory_order_relaxed);
}

static void leave(void)
{
	uf_req_fs = NULL;
}

#define ROUTE(id, call)      \
	do {                 \
		enter(id);   \
		call;        \
		leave();     \
	} while (0)

/* The farm root refuses changes. */
#define ROOT_ERR(req, id, err)               \
	do {                                 \
		if ((id) == FUSE_ROOT_ID) {  \
			fuse_reply_err(req, err); \
			return;              \
		}                            \
	} while (0)

static void root_stat(struct uf_farm *farm, struct stat *st)
{
	if (fstat(farm->parent_fd, st) < 0)
		*st = (struct stat){ .st_mode = S_IFDIR | 0755 };
	st->st_ino = FUSE_ROOT_ID;
	st->st_nlink = 2;
}

static void farm_init(void *userdata, struct fuse_conn_info *conn)
{
	uf_ll_init(userdata, conn);
}

static void farm_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID) {
		ROUTE(parent, uf_ll_lookup(req, parent, name));
		return;
	}
	struct uf_farm *farm = farm_of(req);
	struct uf_sandbox *sb;
	struct stat st;
	int r = uf_farm_lookup_root(farm, name, &sb);
	if (r < 0) {
		/* Not cached: the sandbox may be made any moment. */
		fuse_reply_err(req, -r);
		return;
	}
	struct uf_fs *fs = sb->fs;
	r = uf_inode_stat(fs, fs->root, &st);
	if (r < 0) {
		uf_farm_root_unlookup(farm, fs, 1);
		fuse_reply_err(req, -r);
		return;
	}
	struct fuse_entry_param e = {
		.ino = uf_inode_id(fs, fs->root),
		.attr = st,
		.attr_timeout = fs->timeout,
		.entry_timeout = FARM_ENTRY_TIMEOUT,
	};
	if (fuse_reply_entry(req, &e) == -ENOENT) /* the caller was interrupted */
		uf_farm_root_unlookup(farm, fs, 1);
}

static void forget_one(struct uf_farm *farm, fuse_ino_t id, uint64_t n)
{
	if (id == FUSE_ROOT_ID)
		return;
	struct uf_fs *fs = fs_of(id);
	if ((struct uf_inode *)(uintptr_t)id == fs->root)
		uf_farm_root_unlookup(farm, fs, n);
	else
		uf_inode_forget(fs, (struct uf_inode *)(uintptr_t)id, n);
}

static void farm_forget(fuse_req_t req, fuse_ino_t id, uint64_t n)
{
	forget_one(farm_of(req), id, n);
	fuse_reply_none(req);
}

static void farm_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct uf_farm *farm = farm_of(req);

	for (size_t i = 0; i < count; i++)
		forget_one(farm, f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void farm_getattr(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	if (id == FUSE_ROOT_ID) {
		struct stat st;
		root_stat(farm_of(req), &st);
		fuse_reply_attr(req, &st, FARM_ENTRY_TIMEOUT);
		return;
	}
	ROUTE(id, uf_ll_getattr(req, id, fi));
}

static void farm_setattr(fuse_req_t req, fuse_ino_t id, struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	ROOT_ERR(req, id, EPERM);
	ROUTE(id, uf_ll_setattr(req, id, attr, to_set, fi));
}

static void farm_readlink(fuse_req_t req, fuse_ino_t id)
{
	ROOT_ERR(req, id, EINVAL);
	ROUTE(id, uf_ll_readlink(req, id));
}

static void farm_access(fuse_req_t req, fuse_ino_t id, int mask)
{
	if (id == FUSE_ROOT_ID) {
		fuse_reply_err(req, 0); /* default_permissions: the kernel checked */
		return;
	}
	ROUTE(id, uf_ll_access(req, id, mask));
}

static void farm_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_mknod(req, parent, name, mode, rdev));
}

static void farm_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_mkdir(req, parent, name, mode));
}

static void farm_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_symlink(req, link, parent, name));
}

static void farm_link(fuse_req_t req, fuse_ino_t id, fuse_ino_t newparent, const char *newname)
{
	ROOT_ERR(req, newparent, EPERM);
	if (fs_of(id) != fs_of(newparent)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	ROUTE(id, uf_ll_link(req, id, newparent, newname));
}

static void farm_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_unlink(req, parent, name));
}

static void farm_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_rmdir(req, parent, name));
}

static void farm_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			const char *newname, unsigned int flags)
{
	ROOT_ERR(req, parent, EPERM);
	ROOT_ERR(req, newparent, EPERM);
	if (fs_of(parent) != fs_of(newparent)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	ROUTE(parent, uf_ll_rename(req, parent, name, newparent, newname, flags));
}

/* The farm root's listing: the valid names in the uppers' directory that
 * are directories, built at opendir and at a read from offset 0. */
struct root_dir {
	GMutex lock;
	GPtrArray *names; /* char * */
	GArray *inos;	  /* ino_t, as the sandbox roots' st_ino */
};

static void root_dir_fill(struct uf_farm *farm, struct root_dir *h)
{
	int fd = openat(farm->parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	g_ptr_array_set_size(h->names, 0);
	g_array_set_size(h->inos, 0);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	g_mutex_lock(&farm->lock);
	while ((de = readdir(d))) {
		struct stat st;
		if (!uf_farm_name_valid(de->d_name))
			continue;
		if (de->d_type != DT_DIR &&
		    (de->d_type != DT_UNKNOWN ||
		     fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		unsigned slot = uf_farm_slot_locked(farm, de->d_name);
		ino_t ino = de->d_ino ^ ((uint64_t)slot << UF_FARM_SLOT_SHIFT);
		g_ptr_array_add(h->names, g_strdup(de->d_name));
		g_array_append_val(h->inos, ino);
	}
	g_mutex_unlock(&farm->lock);
	closedir(d);
}

static void farm_opendir(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	if (id != FUSE_ROOT_ID) {
		ROUTE(id, uf_ll_opendir(req, id, fi));
		return;
	}
	struct root_dir *h = g_new0(struct root_dir, 1);
	g_mutex_init(&h->lock);
	h->names = g_ptr_array_new_with_free_func(g_free);
	h->inos = g_array_new(FALSE, FALSE, sizeof(ino_t));
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void root_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
			 bool plus)
{
	struct root_dir *h = (struct root_dir *)(uintptr_t)fi->fh;
	g_autofree char *buf = g_malloc(size);
	size_t pos = 0;

	g_mutex_lock(&h->lock);
	if (off == 0)
		root_dir_fill(farm_of(req), h);
	for (size_t i = off; i < h->names->len + 2; i++) {
		/* Node id 0: plain entries; the kernel looks each up itself. */
		struct fuse_entry_param e = {
			.attr.st_ino = i < 2 ? FUSE_ROOT_ID : g_array_index(h->inos, ino_t, i - 2),
			.attr.st_mode = S_IFDIR,
		};
		const char *name = i == 0 ? "." : i == 1 ? ".." : h->names->pdata[i - 2];
		size_t n = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, i + 1)
				: fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, i + 1);
		if (n > size - pos)
			break;
		pos += n;
	}
	g_mutex_unlock(&h->lock);
	fuse_reply_buf(req, buf, pos);
}

static void farm_readdir(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	if (id == FUSE_ROOT_ID)
		root_readdir(req, size, off, fi, false);
	else
		ROUTE(id, uf_ll_readdir(req, id, size, off, fi));
}

static void farm_readdirplus(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
			     struct fuse_file_info *fi)
{
	if (id == FUSE_ROOT_ID)
		root_readdir(req, size, off, fi, true);
	else
		ROUTE(id, uf_ll_readdirplus(req, id, size, off, fi));
}

static void farm_releasedir(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	if (id != FUSE_ROOT_ID) {
		ROUTE(id, uf_ll_releasedir(req, id, fi));
		return;
	}
	struct root_dir *h = (struct root_dir *)(uintptr_t)fi->fh;
	g_ptr_array_unref(h->names);
	g_array_unref(h->inos);
	g_mutex_clear(&h->lock);
	g_free(h);
	fuse_reply_err(req, 0);
}

static void farm_fsyncdir(fuse_req_t req, fuse_ino_t id, int datasync, struct fuse_file_info *fi)
{
	if (id == FUSE_ROOT_ID) {
		fuse_reply_err(req, 0);
		return;
	}
	ROUTE(id, uf_ll_fsyncdir(req, id, datasync, fi));
}

static void farm_statfs(fuse_req_t req, fuse_ino_t id)
{
	if (id != FUSE_ROOT_ID) {
		ROUTE(id, uf_ll_statfs(req, id));
		return;
	}
	struct statvfs sv;
	if (fstatvfs(farm_of(req)->parent_fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_statfs(req, &sv);
}

static void farm_open(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	ROOT_ERR(req, id, EISDIR);
	ROUTE(id, uf_ll_open(req, id, fi));
}

static void farm_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_create(req, parent, name, mode, fi));
}

static void farm_read(fuse_req_t req, fuse_ino_t id, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_read(req, id, size, off, fi));
}

static void farm_write_buf(fuse_req_t req, fuse_ino_t id, struct fuse_bufvec *bufv, off_t off,
			   struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_write_buf(req, id, bufv, off, fi));
}

static void farm_release(fuse_req_t req, fuse_ino_t id, struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_release(req, id, fi));
}

static void farm_fsync(fuse_req_t req, fuse_ino_t id, int datasync, struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_fsync(req, id, datasync, fi));
}

static void farm_fallocate(fuse_req_t req, fuse_ino_t id, int mode, off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_fallocate(req, id, mode, offset, length, fi));
}

static void farm_lseek(fuse_req_t req, fuse_ino_t id, off_t off, int whence,
		       struct fuse_file_info *fi)
{
	ROUTE(id, uf_ll_lseek(req, id, off, whence, fi));
}

static void farm_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				 struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
				 struct fuse_file_info *fi_out, size_t len, int flags)
{
	if (fs_of(ino_in) != fs_of(ino_out)) {
		fuse_reply_err(req, EXDEV); /* the kernel then copies itself */
		return;
	}
	ROUTE(ino_in, uf_ll_copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out,
					    len, flags));
}

#ifdef UF_HAVE_LL_TMPFILE
static void farm_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi)
{
	ROOT_ERR(req, parent, EPERM);
	ROUTE(parent, uf_ll_tmpfile(req, parent, mode, fi));
}
#endif

static void farm_getxattr(fuse_req_t req, fuse_ino_t id, const char *name, size_t size)
{
	ROOT_ERR(req, id, ENODATA);
	ROUTE(id, uf_ll_getxattr(req, id, name, size));
}

static void farm_listxattr(fuse_req_t req, fuse_ino_t id, size_t size)
{
	if (id == FUSE_ROOT_ID) {
		if (size == 0)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	ROUTE(id, uf_ll_listxattr(req, id, size));
}

static void farm_setxattr(fuse_req_t req, fuse_ino_t id, const char *name, const char *value,
			  size_t size, int flags)
{
	ROOT_ERR(req, id, EPERM);
	ROUTE(id, uf_ll_setxattr(req, id, name, value, size, flags));
}

static void farm_removexattr(fuse_req_t req, fuse_ino_t id, const char *name)
{
	ROOT_ERR(req, id, EPERM);
	ROUTE(id, uf_ll_removexattr(req, id, name));
}

const struct fuse_lowlevel_ops uf_farm_ops = {
	.init = farm_init,
	.destroy = uf_ll_destroy,
	.statfs = farm_statfs,
	.lookup = farm_lookup,
	.forget = farm_forget,
	.forget_multi = farm_forget_multi,
	.getattr = farm_getattr,
	.setattr = farm_setattr,
	.readlink = farm_readlink,
	.access = farm_access,
	.mknod = farm_mknod,
	.mkdir = farm_mkdir,
	.symlink = farm_symlink,
	.link = farm_link,
	.unlink = farm_unlink,
	.rmdir = farm_rmdir,
	.rename = farm_rename,
	.opendir = farm_opendir,
	.readdir = farm_readdir,
	.readdirplus = farm_readdirplus,
	.releasedir = farm_releasedir,
	.fsyncdir = farm_fsyncdir,
	.open = farm_open,
	.create = farm_create,
	.read = farm_read,
	.write_buf = farm_write_buf,
	.release = farm_release,
	.fsync = farm_fsync,
	.fallocate = farm_fallocate,
	.lseek = farm_lseek,
	.copy_file_range = farm_copy_file_range,
#ifdef UF_HAVE_LL_TMPFILE
	.tmpfile = farm_tmpfile,
#endif
	.getxattr = farm_getxattr,
	.listxattr = farm_listxattr,
	.setxattr = farm_setxattr,
	.removexattr = farm_removexattr,
};
