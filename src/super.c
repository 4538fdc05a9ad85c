/* struct uf_fs: building it from the configuration, the root inode, the
 * FUSE init/destroy/statfs handlers, and teardown. */
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "unionfuse/branch.h"
#include "unionfuse/copyup.h"
#include "unionfuse/farm.h"
#include "unionfuse/file.h"
#include "unionfuse/temp.h"
#include "unionfuse/index.h"
#include "unionfuse/inode.h"
#include "unionfuse/modes.h"
#include "unionfuse/notify.h"
#include "unionfuse/passthrough.h"
#include "unionfuse/ops.h"
#include "unionfuse/super.h"
#include "unionfuse/uring.h"
#include "unionfuse/util.h"

static struct uf_inode *make_root(struct uf_fs *fs)
{
	struct uf_branch *top = &fs->branches[0];
	struct uf_inode *root = uf_inode_alloc(&(struct uf_key){ top->dev, top->ino }, S_IFDIR, "");
	unsigned first_lower = fs->upper ? 1 : 0;

	if (fs->upper)
		uf_inode_set_upper(root, fcntl(top->fd, F_DUPFD_CLOEXEC, 0));
	root->nlower = fs->n_branches - first_lower;
	root->lower = g_new0(struct uf_layer, root->nlower ? root->nlower : 1);
	for (unsigned i = first_lower; i < fs->n_branches; i++)
		root->lower[i - first_lower] = (struct uf_layer){
			.fd = fcntl(fs->branches[i].fd, F_DUPFD_CLOEXEC, 0),
			.wd = -1,
			.branch = i,
		};
	root->nlookup = 1;
	root->refs = 1;
	root->fs = fs;
	return root;
}

/* The kernel's volatile marker, WORKDIR/work/incompat/volatile: an upper
 * used without fsync and not cleanly unmounted may have lost anything, so
 * its next mount is refused while the marker is there (by the kernel too).
 * Unlike the kernel, a clean unmount of ours removes it (uf_fs_free(), after
 * syncfs()). */
#define VOLATILE_DIRS "work/incompat/volatile"

static int volatile_check(struct uf_fs *fs, bool marker, const char *workdir, char **reterr_msg)
{
	struct stat st;

	if (fs->work_fd < 0) {
		if (!marker)
			return 0;
		*reterr_msg = g_strdup(
		    "-o volatile needs a workdir (for the marker that refuses the upper after a crash)");
		return -EINVAL;
	}
	if (fstatat(fs->work_fd, VOLATILE_DIRS, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		*reterr_msg = g_strdup_printf(
		    "the upper was mounted volatile and not cleanly unmounted: it may have lost data; "
		    "start over with an empty upper and workdir, or remove '%s/" VOLATILE_DIRS
		    "' if you know it is whole",
		    workdir);
		return -EINVAL;
	}
	if (!marker)
		return 0;
	mkdirat(fs->work_fd, "work", 0700);
	mkdirat(fs->work_fd, "work/incompat", 0700);
	if (mkdirat(fs->work_fd, VOLATILE_DIRS, 0700) < 0 && errno != EEXIST) {
		*reterr_msg = g_strdup_printf("cannot make the volatile marker in workdir '%s': %s",
					      workdir, g_strerror(errno));
		return -errno;
	}
	fs->volatile_marker = true;
	return 0;
}

/* Can we reopen objects by file handle (CAP_DAC_READ_SEARCH, and a branch
 * filesystem that has handles)? Tried on the top branch's root. */
static bool handles_work(int dirfd)
{
	struct file_handle *fh = g_malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mnt_id;

	fh->handle_bytes = MAX_HANDLE_SZ;
	int fd = name_to_handle_at(dirfd, "", fh, &mnt_id, AT_EMPTY_PATH) < 0
		     ? -1
		     : open_by_handle_at(dirfd, fh, O_PATH | O_CLOEXEC);
	g_free(fh);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Lock @fd for this daemon. A mount just unmounted may still be tearing
 * down (umount returns before its daemon exits, and on a loaded machine that
 * can take seconds): give it twenty, unless not to @wait (a farm's sandbox,
 * brought up while a request waits). */
static int lock_in_use(int fd, const char *what, const char *path, bool wait)
{
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		int r = -errno;
		if (r != -EWOULDBLOCK || i == 400 || !wait)
			return r;
		if (i == 20)
			uf_log(LOG_NOTICE, "%s '%s' is in use by another mount: waiting up to 20 s",
			       what, path);
		g_usleep(50 * 1000);
	}
}

/* trusted.* takes CAP_SYS_ADMIN: a root daemon without it (as mount.fuse3
 * -o drop_privileges runs it) keeps the format in user.overlay.* instead. */
static bool trusted_xattrs_ok(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	return geteuid() == 0 && syscall(SYS_capget, &h, d) == 0 &&
	       (d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective & CAP_TO_MASK(CAP_SYS_ADMIN));
}

int uf_fs_new(const struct uf_config *c, struct uf_fs **ret, char **reterr_msg)
{
	struct uf_fs *fs = g_new0(struct uf_fs, 1);
	g_autofree char *work_path = NULL;
	int r;

	fs->work_fd = -1;
	fs->index_fd = -1;
	fs->inotify_fd = fs->notify_stop_fd = -1;
	g_mutex_init(&fs->inodes_lock);
	g_rw_lock_init(&fs->rename_lock);
	g_mutex_init(&fs->xattr_lock);
	g_mutex_init(&fs->files_lock);
	fs->files = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_mutex_init(&fs->devs_lock);
	fs->inodes = g_hash_table_new(uf_key_hash, uf_key_equal);
	fs->unshared = g_hash_table_new(uf_dentry_hash, uf_dentry_equal);
	fs->retired = g_hash_table_new(g_direct_hash, g_direct_equal);
	fs->origins = g_hash_table_new_full(uf_key_hash, uf_key_equal, g_free, g_free);
	fs->copies = g_hash_table_new(uf_key_hash, uf_key_equal); /* origins owns */

	if (c->branches->len > UF_MAX_BRANCHES) {
		*reterr_msg = g_strdup_printf("too many branches (%u, at most %d)",
					      c->branches->len, UF_MAX_BRANCHES);
		r = -E2BIG;
		goto fail;
	}
	unsigned n_all;
	r = c->farm == 2 ? uf_farm_branches_open(c, &fs->branches, &n_all, reterr_msg)
			 : uf_branches_open(c, &fs->branches, &n_all, reterr_msg);
	if (r < 0)
		goto fail;
	/* Data-only branches sit below the others, out of every merge. */
	fs->n_data = c->n_data;
	fs->n_branches = n_all - c->n_data;
	fs->upper = c->has_upper ? &fs->branches[0] : NULL;
	if (c->mountpoint) {
		r = uf_check_mountpoint(c->mountpoint, fs->branches, n_all, reterr_msg);
		if (r < 0)
			goto fail;
	}
	if (c->workdir && fs->upper) {
		r = uf_open_workdir(c->workdir, fs->branches, n_all, &fs->work_fd, &work_path,
				    reterr_msg);
		if (r < 0)
			goto fail;
	}
	/* A sandbox's lowers are its farm's, isolated once. */
	uf_branches_isolate(fs->branches, c->farm == 2 ? 1 : n_all, &fs->work_fd, work_path);
	/* One daemon per upper and work dir (the kernel's "in use" check): two
	 * would build copies over each other's and reap each other's
	 * temporaries. The lock lives as long as the fd, i.e. the daemon. */
	if (fs->upper && (r = lock_in_use(fs->upper->fd, "upper branch", fs->upper->path, !c->farm)) < 0) {
		*reterr_msg = g_strdup_printf("upper branch '%s' is in use by another mount: %s",
					      fs->upper->path, g_strerror(-r));
		goto fail;
	}
	if (fs->work_fd >= 0 && (r = lock_in_use(fs->work_fd, "workdir", work_path, !c->farm)) < 0) {
		*reterr_msg = g_strdup_printf("workdir '%s' is in use by another mount: %s",
					      work_path, g_strerror(-r));
		goto fail;
	}

	fs->handles = handles_work(fs->branches[0].fd);
	fs->name_max = 255;
	for (unsigned i = 0; i < fs->n_branches; i++)
		fs->name_max = MIN(fs->name_max, fs->branches[i].name_max);
	fs->xattr_prefix =
	    g_strdup(c->userxattr || !trusted_xattrs_ok() ? "user.overlay." : "trusted.overlay.");
	fs->xattr_opaque = g_strconcat(fs->xattr_prefix, "opaque", NULL);
	fs->xattr_redirect = g_strconcat(fs->xattr_prefix, "redirect", NULL);
	fs->xattr_metacopy = g_strconcat(fs->xattr_prefix, "metacopy", NULL);
	fs->metacopy = c->metacopy;
	r = uf_index_init(fs, c, reterr_msg);
	if (r < 0)
		goto fail;
	fs->killpriv_want = c->killpriv;
	fs->tmpfile_off = !c->tmpfile;
	fs->volatile_upper = c->volatile_upper != 0;
	r = volatile_check(fs, c->volatile_upper == 1, c->workdir, reterr_msg);
	if (r < 0)
		goto fail;
	if (c->passthrough)
		fs->pt = uf_passthrough_new(c->passthrough == 2);
	fs->opt.noacl = c->noacl;
	fs->opt.noxattrs = c->noxattrs;
	fs->opt.static_nlink = c->static_nlink;
	fs->opt.redirect_off = c->redirect_off;
	/* As root with user.overlay.* xattrs, anyone who can write a branch can
	 * forge a redirect or a metacopy mark, and the daemon would follow it
	 * into what she may not read. The kernel's rule then: follow neither,
	 * write neither (renaming a dir with lower parts is EXDEV). */
	fs->untrusted_xattrs = geteuid() == 0 && c->userxattr;
	if (fs->untrusted_xattrs) {
		if (c->metacopy) {
			*reterr_msg = g_strdup("-o metacopy=on cannot be used with -o userxattr as root "
					       "(anyone who can write a branch could forge it)");
			r = -EINVAL;
			goto fail;
		}
		fs->opt.redirect_off = true;
	}
	fs->opt.squash_uid = c->squash_uid;
	fs->opt.squash_gid = c->squash_gid;
	uf_modes_init(fs);
	fs->inotify_fd = fs->notify_stop_fd = -1;
	/* A farm's lowers are locked shared and do not change: no inotify per
	 * sandbox (1,000 of them would pass fs.inotify.max_user_instances).
	 * With -o nolock they may: short timeouts then. */
	bool watching = c->farm ? !c->nolock : uf_notify_init(fs) == 0;
	fs->sandbox = c->farm == 2;
	/* Watched lowers let the kernel cache for long, as with overlayfs. */
	fs->timeout_set = c->timeout_set;
	fs->timeout = c->timeout_set ? c->timeout
		      : watching     ? UF_WATCHED_TIMEOUT
				     : UF_DEFAULT_TIMEOUT;
	/* Requests on a ring come to threads that live on their CPU. */
	fs->spin_us = c->io_uring ? 0 : c->spin_us;
	fs->writeback = c->writeback && fs->upper;
	/* The upper's dev maps to index 0, so st_ino is the real one there. */
	fs->devs[0] = fs->branches[0].dev;
	atomic_store(&fs->n_devs, 1);
	fs->root = make_root(fs);
	uf_notify_watch(fs, fs->root);
	uf_tmp_cleanup(fs);
	*ret = fs;
	return 0;
fail:
	uf_fs_free(fs);
	return r;
}

static gboolean free_inode(gpointer key, gpointer value, gpointer data)
{
	(void)key;
	if (value != data)
		uf_inode_free(value);
	return TRUE;
}

void uf_fs_unmounted(struct uf_fs *fs)
{
	if (fs->volatile_marker && syncfs(fs->upper->fd) == 0) {
		unlinkat(fs->work_fd, VOLATILE_DIRS, AT_REMOVEDIR);
		unlinkat(fs->work_fd, "work/incompat", AT_REMOVEDIR);
		unlinkat(fs->work_fd, "work", AT_REMOVEDIR);
	}
	fs->volatile_marker = false;
	/* A new mount of these branches may start now: freeing the tables
	 * can take a while (and longer under a sanitizer). */
	if (fs->upper)
		flock(fs->upper->fd, LOCK_UN);
	if (fs->work_fd >= 0)
		flock(fs->work_fd, LOCK_UN);
}

void uf_fs_free(struct uf_fs *fs)
{
	if (!fs)
		return;
	uf_notify_stop(fs);
	uf_files_free(fs);
	g_hash_table_unref(fs->files);
	g_hash_table_foreach_remove(fs->inodes, free_inode, fs->root);
	g_hash_table_foreach_remove(fs->unshared, free_inode, fs->root);
	g_hash_table_foreach_remove(fs->retired, free_inode, fs->root);
	g_hash_table_unref(fs->inodes);
	g_hash_table_unref(fs->unshared);
	g_hash_table_unref(fs->retired);
	g_hash_table_unref(fs->copies);
	g_hash_table_unref(fs->origins);
	if (fs->root)
		uf_inode_free(fs->root);
	uf_branches_free(fs->branches, fs->n_branches + fs->n_data);
	if (fs->work_fd >= 0)
		close(fs->work_fd);
	g_free(fs->xattr_prefix);
	g_free(fs->xattr_opaque);
	g_free(fs->xattr_redirect);
	g_free(fs->xattr_metacopy);
	uf_index_free(fs);
	uf_passthrough_free(fs);
	g_mutex_clear(&fs->inodes_lock);
	g_rw_lock_clear(&fs->rename_lock);
	g_mutex_clear(&fs->xattr_lock);
	g_mutex_clear(&fs->files_lock);
	g_mutex_clear(&fs->devs_lock);
	g_free(fs);
}

void uf_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct uf_fs *fs = userdata;

	/* Big requests: 1 MiB reads and writes, as far as the kernel goes. */
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* Receiving requests through a pipe costs two more syscalls each: a loss
	 * for the small requests that dominate. */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* The kernel enforces POSIX ACLs (default_permissions alone checks
	 * only the mode bits) and caches them, which also spares ls -l a
	 * round trip per file. It then leaves the umask to us (dir.c).
	 * -o noacl: mode bits only, and xattr.c hides the ACLs. */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && !fs->opt.noacl) {
		conn->want |= FUSE_CAP_POSIX_ACL;
		fs->posix_acl = true;
	}
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		fs->writeback = false;
	/* Let the kernel clear setuid/setgid itself: it then sends the new mode
	 * with the chown or write, instead of dropping its cached attributes
	 * after every chown (one more round trip per file in tar -x). */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* flock() and POSIX locks stay in the kernel: one host sees the union. */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	uf_debug("FUSE protocol %u.%u (kernel), libfuse %s", conn->proto_major, conn->proto_minor,
		 fuse_pkgversion());
	uf_killpriv_init(fs, conn);
	uf_uring_init(fs, conn);
	uf_passthrough_init(fs, conn);
#ifdef UF_HAVE_LL_TMPFILE
	uf_debug("O_TMPFILE: through the union (tmpfile.c)");
#else
	uf_debug("O_TMPFILE: off: libfuse %s has no .tmpfile (EOPNOTSUPP)", fuse_pkgversion());
#endif
}

void uf_stat_apply_opts(const struct uf_fs *fs, struct stat *st)
{
	if (fs->opt.squash_uid >= 0)
		st->st_uid = (uid_t)fs->opt.squash_uid;
	if (fs->opt.squash_gid >= 0)
		st->st_gid = (gid_t)fs->opt.squash_gid;
	if (fs->opt.static_nlink && S_ISDIR(st->st_mode))
		st->st_nlink = 1;
}

void uf_ll_destroy(void *userdata)
{
	(void)userdata;
}

void uf_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs->branches[0].fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = fs->name_max;
	fuse_reply_statfs(req, &sv);
}
