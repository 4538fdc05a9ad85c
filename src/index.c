/* overlay.origin and the inode index. A copy-up writes the origin, the
 * file handle of the lower object it was copied from, so that after a
 * remount a copy shows its origin's st_ino as the kernel overlayfs does.
 * With -o index=on a lower hard link is copied up to WORKDIR/index/<hex of
 * that origin> and linked to its name from there; its other names, still
 * lower ones, find the entry by their own origin and are the same inode,
 * with the same data. overlay.nlink keeps the union's link count relative
 * to the upper's (the kernel's ovl_set_nlink_upper()). Everything read
 * back is checked: an origin is used only when it is the handle of the
 * object the same name shows below, an index entry only when its own
 * origin says so. */
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "unionfuse/copyup.h"
#include "unionfuse/index.h"
#include "unionfuse/namei.h"
#include "unionfuse/util.h"

int uf_origin_get(struct uf_fs *fs, int fd, unsigned branch, uint8_t ret[static UF_ORIGIN_MAX])
{
	if (!fs->origin_xattrs)
		return 0;
	int n = uf_origin_of_fd(fd, fs->branches[branch].uuid, false, ret);
	return n > 0 ? n : 0;
}

/* The origin value of @name in @dirfd (not followed), or 0. */
static int origin_at(struct uf_fs *fs, int dirfd, const char *name, unsigned branch,
		     uint8_t ret[static UF_ORIGIN_MAX])
{
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? 0 : uf_origin_get(fs, fd, branch, ret);
}

/* Is @path an fd's own /proc/self/fd link? Following it reaches the very
 * object (even a symlink); a name after it ("/proc/self/fd/N/name") must
 * not be followed. */
static bool is_fd_link(const char *path)
{
	return !strchr(path + sizeof("/proc/self/fd/") - 1, '/');
}

/* Read xattr @xname of the object at @path, a /proc/self/fd path (with or
 * without a name after it). Returns its length or -errno. */
static ssize_t get_at(const char *path, const char *xname, void *buf, size_t size)
{
	return uf_neg_errno_ssize(is_fd_link(path) ? getxattr(path, xname, buf, size)
						   : lgetxattr(path, xname, buf, size));
}

static int set_at(const char *path, const char *xname, const void *v, size_t size)
{
	return uf_neg_errno(is_fd_link(path) ? setxattr(path, xname, v, size, 0)
					     : lsetxattr(path, xname, v, size, 0));
}

/* Is the overlay.origin of the object at @path exactly @origin? */
static bool origin_is(struct uf_fs *fs, const char *path, const uint8_t *origin, int olen)
{
	uint8_t v[UF_ORIGIN_MAX + 1];
	ssize_t n = get_at(path, fs->xattr_origin, v, sizeof(v));

	return n == olen && memcmp(v, origin, olen) == 0;
}

/* The nlink difference an overlay.nlink at @path records against the
 * upper's @upper_nlink (lower: @lower_nlink); 0 when it has none or an
 * invalid one, the kernel's fallback. */
static int read_diff(struct uf_fs *fs, const char *path, unsigned upper_nlink,
		     unsigned lower_nlink)
{
	char v[UF_NLINK_MAX], base;
	int diff;
	ssize_t n = get_at(path, fs->xattr_nlink, v, sizeof(v));

	if (n < 0 || uf_nlink_parse(v, n, &base, &diff) < 0) {
		if (n >= 0)
			uf_log_limited(LOG_WARNING, "invalid overlay.nlink on an index entry: ignored");
		return 0;
	}
	return (int)uf_nlink_apply(base, diff, upper_nlink, lower_nlink, upper_nlink) -
	       (int)upper_nlink;
}

static int index_path(struct uf_fs *fs, const uint8_t *origin, int olen, char *path, size_t size)
{
	char name[UF_INDEX_NAME_MAX];

	uf_index_name(origin, olen, name);
	return snprintf(path, size, "/proc/self/fd/%d/%s", fs->index_fd, name);
}

bool uf_index_has(struct uf_fs *fs, const uint8_t *origin, int olen)
{
	char path[UF_INDEX_NAME_MAX + 32];
	struct stat st;

	if (fs->index_fd < 0 || olen <= 0)
		return false;
	index_path(fs, origin, olen, path, sizeof(path));
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       origin_is(fs, path, origin, olen);
}

/* The lower object origin @o names, decoded by its file handle as the
 * kernel's ovl_check_origin() does when the copy no longer has the same
 * name as its origin (it was renamed in the union). Only where no user can
 * write an origin (trusted.* xattrs, which need CAP_SYS_ADMIN) and the
 * daemon may open by handle (root); in the lower whose filesystem has the
 * origin's uuid, or, for filesystems without one, in the only lower
 * filesystem without one. Returns 0 with *ret, or -errno. */
static int origin_decode(struct uf_fs *fs, const struct uf_origin *o, mode_t type,
			 struct stat *ret)
{
	static const uint8_t null_uuid[16];
	unsigned first = fs->upper ? 1 : 0, match = fs->n_branches, nmatch = 0;

	if (!fs->handles || fs->untrusted_xattrs || !g_str_has_prefix(fs->xattr_prefix, "trusted."))
		return -EPERM;
	for (unsigned b = first; b < fs->n_branches; b++) {
		if (memcmp(fs->branches[b].uuid, o->uuid, 16) != 0)
			continue;
		/* Several branches of one filesystem are one match. */
		if (nmatch == 0 || fs->branches[b].dev != fs->branches[match].dev)
			nmatch++;
		if (nmatch == 1)
			match = b;
	}
	if (nmatch == 0 || (nmatch > 1 && memcmp(o->uuid, null_uuid, 16) == 0))
		return -ENOENT;
	g_autofree struct file_handle *fh = g_malloc(sizeof(*fh) + o->fid_len);
	fh->handle_bytes = o->fid_len;
	fh->handle_type = o->type;
	memcpy(fh->f_handle, o->fid, o->fid_len);
	_cleanup_close_ int fd = open_by_handle_at(fs->branches[match].fd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret) < 0)
		return -errno;
	if (ret->st_dev != fs->branches[match].dev || (ret->st_mode & S_IFMT) != type ||
	    uf_format_is_whiteout(ret))
		return -ESTALE;
	return 0;
}

int uf_origin_lookup(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
		     const char *name, const struct stat *ust, struct uf_key *ret_origin,
		     bool *ret_indexed, int *ret_diff)
{
	uint8_t v[UF_ORIGIN_MAX + 1], lv[UF_ORIGIN_MAX];
	char path[PATH_MAX];
	struct uf_layers below;
	struct stat lst;
	unsigned lfound;

	*ret_indexed = false;
	*ret_diff = 0;
	if (!fs->origin_xattrs || found + 1 >= L->n || S_ISDIR(ust->st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", L->v[found].fd, name);
	ssize_t n = get_at(path, fs->xattr_origin, v, sizeof(v));
	if (n <= 0)
		return 0;
	struct uf_origin o;
	int pr = uf_origin_parse(v, n, &o);
	if (pr < 0) {
		if (pr != -ENODATA)
			uf_log_limited(LOG_WARNING, "'%s': invalid overlay.origin: not used", name);
		return 0;
	}
	n = v[2]; /* its len: bytes past it are not the handle's */
	below.n = L->n - found - 1;
	memcpy(below.v, L->v + found + 1, below.n * sizeof(below.v[0]));
	bool same_name = uf_find(fs, &below, name, &lfound, &lst) == 0 &&
			 (lst.st_mode & S_IFMT) == (ust->st_mode & S_IFMT);
	if (same_name) {
		int ln = origin_at(fs, below.v[lfound].fd, name, below.v[lfound].branch, lv);
		same_name = ln == n && memcmp(v, lv, n) == 0;
	}
	/* Not the origin of what the same name shows below: a renamed copy,
	 * whose origin only the lower's own file handle can find. */
	if (!same_name && origin_decode(fs, &o, ust->st_mode & S_IFMT, &lst) < 0)
		return 0;
	if (lst.st_nlink > 1) {
		/* A broken-off hard link shares its origin with the other
		 * names: only an index entry that is this very object makes
		 * the origin its identity. */
		struct stat ist;
		index_path(fs, v, n, path, sizeof(path));
		if (fs->index_fd < 0 || lstat(path, &ist) < 0 || ist.st_dev != ust->st_dev ||
		    ist.st_ino != ust->st_ino)
			return 0;
		*ret_indexed = true;
		*ret_diff = read_diff(fs, path, ust->st_nlink, lst.st_nlink);
	}
	*ret_origin = (struct uf_key){ lst.st_dev, lst.st_ino };
	return 1;
}

int uf_index_lookup(struct uf_fs *fs, int dirfd, const char *name, unsigned branch,
		    struct stat *ret_st, int *ret_pin, int *ret_diff)
{
	uint8_t origin[UF_ORIGIN_MAX];
	char path[UF_INDEX_NAME_MAX + 32], ppath[UF_PROC_FD_MAX];
	struct stat lst;

	if (fs->index_fd < 0)
		return 0;
	int olen = origin_at(fs, dirfd, name, branch, origin);
	if (olen <= 0 || fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	index_path(fs, origin, olen, path, sizeof(path));
	_cleanup_close_ int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, ret_st) < 0)
		return -errno;
	uf_proc_fd(ppath, fd);
	if (!S_ISREG(ret_st->st_mode) || !origin_is(fs, ppath, origin, olen)) {
		uf_log_limited(LOG_WARNING, "index entry for '%s' is not its copy: not used", name);
		return 0;
	}
	*ret_diff = read_diff(fs, ppath, ret_st->st_nlink, lst.st_nlink);
	*ret_pin = uf_take_fd(&fd);
	return 1;
}

/* Record on upper object @path the union's link count @union_nlink. */
static int set_nlink(struct uf_fs *fs, const char *path, int diff)
{
	char v[UF_NLINK_MAX];
	int n = snprintf(v, sizeof(v), "U%+i", diff);

	return set_at(path, fs->xattr_nlink, v, n);
}

int uf_index_publish(struct uf_fs *fs, struct uf_inode *ino, int fd, int tmpdir, const char *tmp,
		     int pdir, const char *name, const uint8_t *origin, int olen,
		     unsigned lower_nlink, struct stat *ret_st, int *ret_diff)
{
	char iname[UF_INDEX_NAME_MAX], path[UF_INDEX_NAME_MAX + 32];
	int r;

	uf_index_name(origin, olen, iname);
	index_path(fs, origin, olen, path, sizeof(path));
	if (uf_index_has(fs, origin, olen)) {
		/* Linked as the kernel's ovl_link_up(): the union's count
		 * stays, the upper's grows by one. */
		if (lstat(path, ret_st) < 0)
			return -errno;
		*ret_diff = read_diff(fs, path, ret_st->st_nlink, lower_nlink) - 1;
		if (tmp[0])
			unlinkat(tmpdir, tmp, 0); /* not needed after all */
	} else {
		char fdpath[UF_PROC_FD_MAX];
		/* Index plus the name: the union's count is the lower's. */
		*ret_diff = (int)lower_nlink - 2;
		if (tmp[0]) {
			g_autofree char *tpath = g_strdup_printf("/proc/self/fd/%d/%s", tmpdir, tmp);
			r = set_nlink(fs, tpath, *ret_diff);
			if (r == 0)
				r = uf_neg_errno(renameat2(tmpdir, tmp, fs->index_fd, iname,
							   RENAME_NOREPLACE));
			if (r < 0)
				unlinkat(tmpdir, tmp, 0);
		} else {
			r = set_nlink(fs, uf_proc_fd(fdpath, fd), *ret_diff);
			if (r == 0)
				r = uf_neg_errno(linkat(AT_FDCWD, fdpath, fs->index_fd, iname,
							AT_SYMLINK_FOLLOW));
		}
		if (r < 0)
			return r;
		if (lstat(path, ret_st) < 0)
			return -errno;
		/* Made durable with the copy: the entry's name too. */
		if (!fs->volatile_upper)
			fsync(fs->index_fd);
	}
	struct uf_key ukey = { ret_st->st_dev, ret_st->st_ino };
	uf_origin_add(fs, &ukey, &ino->key);
	r = uf_neg_errno(linkat(fs->index_fd, iname, pdir, name, 0));
	if (r == 0)
		r = set_nlink(fs, path, *ret_diff);
	if (r == 0)
		r = uf_neg_errno(lstat(path, ret_st));
	return r;
}

void uf_index_unlinked(struct uf_fs *fs, struct uf_inode *ino, bool lower_only)
{
	uint8_t origin[UF_ORIGIN_MAX + 1];
	struct uf_located loc;
	struct stat st;

	if (!ino->indexed || uf_inode_locate(fs, ino, UF_TOP, &loc) < 0)
		return;
	int diff = atomic_load(&ino->nlink_diff) - (lower_only ? 1 : 0);
	atomic_store(&ino->nlink_diff, diff);
	if (fstat(loc.fd, &st) == 0 && (long long)st.st_nlink + diff > 0) {
		if (lower_only)
			set_nlink(fs, loc.path, diff);
		uf_located_done(&loc);
		return;
	}
	/* Only the index entry is left: it goes, as the kernel's
	 * ovl_cleanup_index() (no lower name shows it any more). */
	ssize_t n = get_at(loc.path, fs->xattr_origin, origin, sizeof(origin));
	char iname[UF_INDEX_NAME_MAX];
	if (n > 0 && uf_origin_parse(origin, n, NULL) == 0 && st.st_nlink == 1) {
		uf_index_name(origin, origin[2], iname);
		struct stat ist;
		if (fstatat(fs->index_fd, iname, &ist, AT_SYMLINK_NOFOLLOW) == 0 &&
		    ist.st_dev == st.st_dev && ist.st_ino == st.st_ino)
			unlinkat(fs->index_fd, iname, 0);
	} else {
		set_nlink(fs, loc.path, diff);
	}
	uf_located_done(&loc);
}

void uf_set_impure(struct uf_fs *fs, int updir)
{
	char v;

	if (fs->origin_xattrs && !(fgetxattr(updir, fs->xattr_impure, &v, 1) == 1 && v == 'y'))
		fsetxattr(updir, fs->xattr_impure, "y", 1, 0);
}

int uf_index_link_up(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		     const char *name)
{
	struct uf_located loc;
	struct stat st;

	if (!ino->indexed || !uf_inode_in_upper(fs, ino))
		return 0;
	int r = uf_copyup(fs, dir, 0);
	if (r < 0)
		return r;
	int updir = uf_inode_upper(dir);
	if (fstatat(updir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return 0; /* in the upper already (or no lower-only name: let the caller see) */
	r = uf_inode_locate(fs, ino, UF_TOP, &loc);
	if (r < 0)
		return r;
	g_mutex_lock(&dir->lock);
	r = uf_neg_errno(linkat(AT_FDCWD, loc.path, updir, name, AT_SYMLINK_FOLLOW));
	g_mutex_unlock(&dir->lock);
	if (r == 0) {
		/* The union's count stays, the upper's grows by one. */
		int diff = atomic_fetch_sub(&ino->nlink_diff, 1) - 1;
		set_nlink(fs, loc.path, diff);
	}
	uf_debug("index: linked up '%s': %d", name, r);
	uf_located_done(&loc);
	return r;
}

/* Verify that xattr @xname of @dirfd's object is the origin of @of (set it
 * when it has none), as the kernel's ovl_verify_origin(). */
static int verify_set(struct uf_fs *fs, int dirfd, const char *xname, int of, unsigned branch,
		      bool upper)
{
	uint8_t want[UF_ORIGIN_MAX], v[UF_ORIGIN_MAX + 1];
	char path[UF_PROC_FD_MAX];
	int n = uf_origin_of_fd(of, fs->branches[branch].uuid, upper, want);

	if (n < 0)
		return n;
	uf_proc_fd(path, dirfd);
	ssize_t got = get_at(path, xname, v, sizeof(v));
	if (got == -ENODATA)
		return set_at(path, xname, want, n);
	if (got < 0)
		return (int)got;
	return got == n && memcmp(v, want, n) == 0 ? 0 : -ESTALE;
}

int uf_index_init(struct uf_fs *fs, const struct uf_config *c, char **reterr_msg)
{
	uint8_t probe[UF_ORIGIN_MAX];
	int r;

	fs->index_fd = -1;
	fs->xattr_origin = g_strconcat(fs->xattr_prefix, "origin", NULL);
	fs->xattr_nlink = g_strconcat(fs->xattr_prefix, "nlink", NULL);
	fs->xattr_impure = g_strconcat(fs->xattr_prefix, "impure", NULL);
	for (unsigned i = 0; i < fs->n_branches; i++)
		uf_fs_uuid(fs->branches[i].fd, fs->branches[i].uuid);
	/* Origins name lower objects: written only when the lowers have file
	 * handles (tried on the top lower's root), as the kernel. */
	fs->origin_xattrs = fs->upper && fs->n_branches > 1 &&
		      uf_origin_of_fd(fs->branches[1].fd, fs->branches[1].uuid, false, probe) > 0;
	if (!c->index)
		return 0;
	if (!fs->upper)
		return 0; /* read-only: nothing is copied up, as the kernel */
	const char *why = fs->work_fd < 0	      ? "a workdir (-o workdir=)"
			  : fs->untrusted_xattrs      ? "trusted.overlay.* xattrs (not -o userxattr)"
			  : !fs->origin_xattrs || !fs->handles ? "file handles on the branches (and root)"
							 : NULL;
	if (why) {
		*reterr_msg = g_strdup_printf("-o index=on needs %s", why);
		return -EINVAL;
	}
	/* The kernel's checks: the upper root's origin is the top lower's
	 * root (this upper was not used with other lowers), and index/'s
	 * overlay.upper is the upper root. */
	r = verify_set(fs, fs->upper->fd, fs->xattr_origin, fs->branches[1].fd, 1, false);
	if (r < 0) {
		*reterr_msg = g_strdup_printf(
		    "-o index=on: %s: the upper was used with other lower branches (its "
		    "overlay.origin is not the top lower's root)",
		    r == -ESTALE ? "refused" : g_strerror(-r));
		return r == -ESTALE ? -EINVAL : r;
	}
	if (mkdirat(fs->work_fd, "index", 0) < 0 && errno != EEXIST) {
		*reterr_msg = g_strdup_printf("cannot make index/ in the workdir: %s",
					      g_strerror(errno));
		return -errno;
	}
	fs->index_fd = openat(fs->work_fd, "index", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fs->index_fd < 0) {
		*reterr_msg = g_strdup_printf("cannot open index/ in the workdir: %s",
					      g_strerror(errno));
		return -errno;
	}
	g_autofree char *xupper = g_strconcat(fs->xattr_prefix, "upper", NULL);
	r = verify_set(fs, fs->index_fd, xupper, fs->upper->fd, 0, true);
	if (r < 0) {
		*reterr_msg = g_strdup_printf("-o index=on: index/ belongs to another upper: %s",
					      r == -ESTALE ? "refused" : g_strerror(-r));
		return r == -ESTALE ? -EINVAL : r;
	}
	fs->index = true;
	return 0;
}

void uf_index_free(struct uf_fs *fs)
{
	if (fs->index_fd >= 0)
		close(fs->index_fd);
	g_free(fs->xattr_origin);
	g_free(fs->xattr_nlink);
	g_free(fs->xattr_impure);
}
