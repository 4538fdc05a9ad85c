/* mknod/mkdir/symlink/link/unlink/rmdir/rename. Every change lands in the
 * upper branch: a name that still exists in a lower is hidden by a whiteout,
 * a directory made where a lower one was removed is opaque, and a directory
 * that exists in a lower is renamed by giving its upper copy an
 * overlay.redirect xattr (the kernel's redirect_dir=on format) instead of
 * failing with EXDEV. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <stdio.h>
#include <string.h>

#include "unionfuse/copyup.h"
#include "unionfuse/index.h"
#include "unionfuse/dir.h"
#include "unionfuse/file.h"
#include "unionfuse/inode.h"
#include "unionfuse/namei.h"
#include "unionfuse/ops.h"
#include "unionfuse/readdir.h"
#include "unionfuse/redirect.h"
#include "unionfuse/temp.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"
#include "unionfuse/worker.h"

/* What a new name replaces in the upper (prepare_new()). */
enum new_over {
	OVER_NOTHING,
	OVER_WHITEOUT, /* a whiteout entry of that name */
	OVER_AUFS,     /* an aufs ".wh.NAME" beside a free name */
};

/* Copy @dir up and check that new entry @name may be made in it. Returns
 * the upper dir fd (borrowed from the inode) and what the new entry will
 * replace: a whiteout is replaced in the same step that publishes it. */
static int prepare_new(struct uf_fs *fs, struct uf_inode *dir, const char *name, int *ret_dirfd,
		       enum new_over *ret_over)
{
	struct stat st;
	int r;

	if (!fs->upper)
		return -EROFS;
	r = uf_check_new_name(fs, name);
	if (r < 0)
		return r;
	r = uf_copyup(fs, dir, 0);
	if (r < 0)
		return r;
	int updir = uf_inode_upper(dir);

	*ret_over = OVER_NOTHING;
	r = uf_neg_errno(fstatat(updir, name, &st, AT_SYMLINK_NOFOLLOW));
	if (r == 0) {
		if (!uf_is_whiteout(&st))
			return -EEXIST;
		*ret_over = OVER_WHITEOUT;
	} else if (r == -ENOENT) {
		if (uf_has_aufs_whiteout(updir, name)) {
			*ret_over = OVER_AUFS;
		} else {
			r = uf_name_in_lower(fs, dir, name);
			if (r != 0)
				return r < 0 ? r : -EEXIST;
		}
	} else {
		return r;
	}
	*ret_dirfd = updir;
	return 0;
}

/* Put new object @tmp of @updir in place as @name in one step: over the
 * whiteout there (swapped with it, which then goes), or onto the free name.
 * Until this step the union shows the name as it was; after it, whole. */
static int publish_aside(int updir, const char *tmp, const char *name, enum new_over over)
{
	if (over != OVER_WHITEOUT)
		return uf_neg_errno(renameat2(updir, tmp, updir, name, RENAME_NOREPLACE));
	int r = uf_neg_errno(renameat2(updir, tmp, updir, name, RENAME_EXCHANGE));
	if (r == 0)
		unlinkat(updir, tmp, 0); /* the whiteout; if this fails, it is reaped */
	return r;
}

/* Owner of a new object: the caller, with the group of a setgid parent. */
static void new_owner(fuse_req_t req, int updir, uid_t *uid, gid_t *gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;

	*uid = ctx->uid;
	*gid = ctx->gid;
	if (fstat(updir, &pst) == 0 && (pst.st_mode & S_ISGID))
		*gid = pst.st_gid;
}

/* With POSIX ACLs the kernel leaves the caller's umask to us: the upper
 * filesystem applies a default ACL of the parent itself, and the umask only
 * when there is none (our own umask is 0). */
static mode_t apply_umask(const struct uf_fs *fs, fuse_req_t req, int updir, mode_t mode)
{
	if (!fs->posix_acl || S_ISLNK(mode))
		return mode;
	if (fgetxattr(updir, "system.posix_acl_default", NULL, 0) > 0)
		return mode;
	return mode & ~(fuse_req_ctx(req)->umask & 0777);
}

/* Give new object @fd (an open or O_PATH fd, not a symlink) its owner, then
 * the setuid/setgid bits of @mode: it was made without them, since chown
 * clears them and until it has its owner it must not be a privileged file
 * of ours. The permission bits stay as the upper made them (a default ACL
 * may have masked them). */
static int set_owner(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	char path[UF_PROC_FD_MAX];
	struct stat st;

	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
		return -errno;
	if (!(mode & (S_ISUID | S_ISGID)))
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	return uf_neg_errno(
	    chmod(uf_proc_fd(path, fd), (st.st_mode & 07777) | (mode & (S_ISUID | S_ISGID))));
}

/* set_owner() for the object @name just made in @updir by name: only if it
 * is still the one we made (ours, of its type, one link unless a dir). The
 * upper's owner may swap names in it: never chown what she put there. */
static int set_node_owner(int updir, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	_cleanup_close_ int fd = openat(updir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & S_IFMT) != (mode & S_IFMT) || st.st_uid != geteuid() ||
	    (!S_ISDIR(st.st_mode) && st.st_nlink != 1))
		return -ESTALE;
	return set_owner(fd, uid, gid, mode);
}

/* Publish the new upper object @name of @dir as an inode: the one open as
 * @fd when it is open (whatever its name holds by now). */
static int publish_new(struct uf_fs *fs, struct uf_inode *dir, int updir, const char *name, int fd,
		       struct uf_inode **ret_ino, struct stat *ret_st)
{
	struct stat st;
	_cleanup_close_ int dfd = -1;

	if ((fd >= 0 ? fstat(fd, &st) : fstatat(updir, name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		dfd = openat(updir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
	}
	struct uf_key key = { st.st_dev, st.st_ino };
	uf_origin_remove(fs, &key); /* an old record for a reused ino */
	struct uf_inode *cand = uf_inode_alloc(&key, st.st_mode, name);
	if (dfd >= 0)
		uf_inode_set_upper(cand, uf_take_fd(&dfd));
	struct uf_inode *ino = uf_inode_publish(fs, dir, name, cand);
	uf_stat_fixup(fs, ino, &st);
	*ret_ino = ino;
	*ret_st = st;
	return 0;
}

int uf_dir_create(struct uf_fs *fs, fuse_req_t req, struct uf_inode *dir, const char *name,
		  mode_t mode, dev_t rdev, const char *link, int oflags, int *ret_fd,
		  struct uf_inode **ret_ino, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	char tmp[UF_TMP_NAME_MAX];
	enum new_over over;
	bool made = false;
	int updir, r;
	uid_t uid;
	gid_t gid;

	r = prepare_new(fs, dir, name, &updir, &over);
	if (r < 0)
		return r;
	new_owner(req, updir, &uid, &gid);
	mode = apply_umask(fs, req, updir, mode);
	/* Whole or not at all, even if the daemon dies: an object that needs
	 * more than its creation (replacing a whiteout, opacity, an owner not
	 * ours, setuid/setgid) is made under a temporary name and published
	 * with one rename. */
	bool aside = over != OVER_NOTHING || uid != geteuid() || gid != getegid() ||
		     (mode & (S_ISUID | S_ISGID));
	const char *at = name;
	if (aside) {
		uf_tmp_name(tmp);
		at = tmp;
	}

	/* Serialised with copy-ups into this dir (copyup.c keeps its times). */
	g_autoptr(GMutexLocker) l = g_mutex_locker_new(&dir->lock);
	switch (mode & S_IFMT) {
	case S_IFREG:
		fd = openat(updir, at, oflags | O_CREAT | O_EXCL | O_CLOEXEC,
			    mode & 07777 & ~(S_ISUID | S_ISGID));
		made = fd >= 0;
		r = fd < 0 ? -errno : set_owner(fd, uid, gid, mode);
		break;
	case S_IFDIR:
		r = uf_neg_errno(mkdirat(updir, at, mode & 07777));
		made = r == 0;
		/* A dir's setgid survives chown, and is the upper's to set. */
		if (r == 0)
			r = set_node_owner(updir, at, uid, gid, mode & ~(S_ISUID | S_ISGID));
		if (r == 0 && over != OVER_NOTHING) {
			_cleanup_close_ int dfd =
			    openat(updir, at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = dfd < 0 ? -errno : uf_dir_set_opaque(fs, dfd);
			uf_debug("mkdir '%s' over a whiteout: made it opaque: %d", name, r);
		}
		break;
	case S_IFLNK:
		r = uf_neg_errno(symlinkat(link, updir, at));
		made = r == 0;
		if (r == 0)
			r = set_node_owner(updir, at, uid, gid, S_IFLNK);
		break;
	default:
		r = uf_neg_errno(mknodat(updir, at, mode & ~(S_ISUID | S_ISGID), rdev));
		made = r == 0;
		if (r == 0)
			r = set_node_owner(updir, at, uid, gid, mode);
		break;
	}
	if (r == 0 && aside)
		r = publish_aside(updir, tmp, name, over);
	if (r < 0) {
		if (made)
			unlinkat(updir, at, S_ISDIR(mode) ? AT_REMOVEDIR : 0);
		return r;
	}
	r = publish_new(fs, dir, updir, name, fd, ret_ino, ret_st);
	if (r < 0)
		return r;
	if (ret_fd)
		*ret_fd = uf_take_fd(&fd);
	return 0;
}

static void reply_create(fuse_req_t req, struct uf_fs *fs, struct uf_inode *dir, const char *name,
			 mode_t mode, dev_t rdev, const char *link)
{
	struct uf_inode *ino;
	struct stat st;
	int r = uf_dir_create(fs, req, dir, name, mode, rdev, link, 0, NULL, &ino, &st);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		uf_reply_entry(req, fs, ino, &st);
}

void uf_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	/* As the kernel: a whiteout cannot be made through the union. */
	if (S_ISCHR(mode) && rdev == 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	reply_create(req, fs, uf_inode_from_id(fs, parent), name, mode, rdev, NULL);
}

void uf_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	reply_create(req, fs, uf_inode_from_id(fs, parent), name, S_IFDIR | (mode & 07777), 0,
		     NULL);
}

void uf_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	reply_create(req, fs, uf_inode_from_id(fs, parent), name, S_IFLNK | 0777, 0, link);
}

static void do_link(fuse_req_t req, fuse_ino_t id, fuse_ino_t newparent, const char *newname)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	struct uf_inode *dir = uf_inode_from_id(fs, newparent);
	enum new_over over;
	struct stat st;
	int updir;

	int r = uf_copyup(fs, ino, 0);
	if (r == 0)
		r = prepare_new(fs, dir, newname, &updir, &over);
	if (r == 0) {
		struct uf_located loc;
		char tmp[UF_TMP_NAME_MAX];
		/* Over a whiteout: linked aside, then swapped in (publish_aside()). */
		const char *at = newname;
		if (over != OVER_NOTHING) {
			uf_tmp_name(tmp);
			at = tmp;
		}
		/* The dir's lock before the rename lock that locate takes. */
		g_mutex_lock(&dir->lock);
		r = uf_inode_locate(fs, ino, UF_TOP, &loc);
		if (r == 0) {
			r = uf_loc_link(&loc, updir, at);
			uf_located_done(&loc);
		}
		if (r == 0 && over != OVER_NOTHING) {
			r = publish_aside(updir, tmp, newname, over);
			if (r < 0)
				unlinkat(updir, tmp, 0);
		}
		g_mutex_unlock(&dir->lock);
	}
	if (r == 0)
		r = uf_inode_stat(fs, ino, &st);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* Its names can go now while it lives on: hold on to the object. */
	uf_inode_keep_pin(fs, ino, false);
	uf_inode_count_lookup(fs, ino);
	uf_reply_entry(req, fs, ino, &st);
}

static void run_link(struct uf_job *j)
{
	do_link(j->req, j->ino, j->ino2, j->name);
}

void uf_ll_link(fuse_req_t req, fuse_ino_t id, fuse_ino_t newparent, const char *newname)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	if (!uf_copyup_copies_data(fs, uf_inode_from_id(fs, id))) {
		do_link(req, id, newparent, newname);
		return;
	}
	struct uf_job *j = uf_job_new(run_link, req);
	j->ino = id;
	j->ino2 = newparent;
	j->name = g_strdup(newname);
	uf_job_submit(fs, j);
}

/* Take the upper entry @name of @updir out of the union, leaving a whiteout
 * when @whiteout, in one atomic step (temp.h); note when the last link of a
 * copied-up object goes. */
static int remove_upper(struct uf_fs *fs, int updir, const char *name, bool whiteout)
{
	struct stat st;

	if (fstatat(updir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	int r = uf_remove_aside(updir, name, whiteout);
	if (r == 0 && (S_ISDIR(st.st_mode) || st.st_nlink <= 1))
		uf_origin_remove(fs, &(struct uf_key){ st.st_dev, st.st_ino });
	return r;
}

/* What a name in a directory is, for the removing calls. */
struct victim {
	struct stat st;
	bool in_upper; /* the topmost object is the upper's */
	bool in_lower; /* a lower object would show if the upper one went */
};

static int find_victim(struct uf_fs *fs, struct uf_inode *dir, const char *name, struct victim *v)
{
	struct uf_layers L;
	unsigned found;

	uf_inode_layers(dir, &L);
	int r = uf_find(fs, &L, name, &found, &v->st);
	if (r < 0)
		return r;
	v->in_upper = fs->upper && L.v[found].branch == 0 && uf_inode_upper(dir) >= 0;
	r = v->in_upper ? uf_name_in_lower(fs, dir, name) : 1;
	if (r < 0)
		return r;
	v->in_lower = r;
	return 0;
}

/* The directory @name of @dir, if it is empty in the union, locked: nothing
 * can be made in it until the caller unlocks it. Returns it with one lookup
 * counted. */
static int lock_empty_dir(struct uf_fs *fs, struct uf_inode *dir, const char *name,
			  struct uf_inode **ret)
{
	struct uf_inode *child;
	struct stat st;

	int r = uf_namei(fs, dir, name, &child, &st);
	if (r < 0)
		return r;
	r = S_ISDIR(child->type) ? uf_inode_trylock(child) : -ENOTDIR;
	if (r < 0) {
		uf_inode_forget(fs, child, 1);
		return r;
	}
	r = uf_dir_is_empty(fs, child);
	if (r <= 0) {
		g_mutex_unlock(&child->lock);
		uf_inode_forget(fs, child, 1);
		return r == 0 ? -ENOTEMPTY : r;
	}
	*ret = child;
	return 0;
}

/* The inode of non-dir @name in @dir, pinned so that it outlives its name
 * (open files, fstat). Returns it with one lookup counted, or NULL. */
static struct uf_inode *pin_victim(struct uf_fs *fs, struct uf_inode *dir, const char *name)
{
	struct uf_inode *ino;
	struct stat st;

	if (uf_namei(fs, dir, name, &ino, &st) < 0)
		return NULL;
	uf_inode_keep_pin(fs, ino, true);
	return ino;
}

/* Remove @name from @dir: an upper entry goes (with what a dir still holds:
 * whiteouts) and a whiteout hides a lower one, in a single atomic step, so an
 * error or a crash leaves the name as it was or gone, never in between. */
static int do_remove(struct uf_fs *fs, struct uf_inode *dir, const char *name, bool is_dir)
{
	struct uf_inode *child = NULL, *victim = NULL;
	struct victim v;

	if (!fs->upper)
		return -EROFS;
	int r = find_victim(fs, dir, name, &v);
	if (r < 0)
		return r;
	if (is_dir && !S_ISDIR(v.st.st_mode))
		return -ENOTDIR;
	if (!is_dir && S_ISDIR(v.st.st_mode))
		return -EISDIR;
	/* Lock order: the child dir, then its parent (types.h). */
	if (is_dir) {
		r = lock_empty_dir(fs, dir, name, &child);
		if (r < 0)
			return r;
	}
	r = uf_copyup(fs, dir, 0);
	if (r == 0 && !is_dir)
		victim = pin_victim(fs, dir, name);
	if (r == 0) {
		int updir = uf_inode_upper(dir);
		g_mutex_lock(&dir->lock);
		if (v.in_upper)
			r = remove_upper(fs, updir, name, v.in_lower);
		else
			r = uf_whiteout_create(fs, updir, name);
		g_mutex_unlock(&dir->lock);
		if (v.in_lower)
			uf_debug("%s '%s': whiteout created in the upper: %d",
				 is_dir ? "rmdir" : "unlink", name, r);
	}
	if (child) {
		g_mutex_unlock(&child->lock);
		uf_inode_forget(fs, child, 1);
	}
	if (victim) {
		if (r == 0 && victim->indexed)
			uf_index_unlinked(fs, victim, !v.in_upper);
		if (r == 0)
			uf_inode_set_unlinked(fs, victim);
		uf_inode_forget(fs, victim, 1);
	}
	return r;
}

void uf_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	fuse_reply_err(req, -do_remove(fs, uf_inode_from_id(fs, parent), name, false));
}

void uf_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct uf_fs *fs = uf_fs_from_req(req);

	fuse_reply_err(req, -do_remove(fs, uf_inode_from_id(fs, parent), name, true));
}

/* The marks set_redirect() and keep_unmerged() wrote on a moving dir, so
 * that a rename failing after them leaves the upper as it was. */
struct moved_marks {
	struct uf_inode *ino;
	bool redirect;	       /* wrote overlay.redirect */
	char *old_value;       /* the on-disk value it replaced, or NULL */
	ssize_t old_len;
	char *old_redirect;    /* ino->redirect before */
	bool opaque;	       /* made it opaque */
};

static void marks_done(struct moved_marks *m)
{
	g_free(m->old_value);
	g_free(m->old_redirect);
}

/* Give a directory that has lower parts, about to move within its
 * directory (@samedir) or elsewhere, the redirect the kernel would write
 * (uf_redirect_for_rename()), noting in @m what it replaces. Caller copied
 * it up. */
static int set_redirect(struct uf_fs *fs, struct uf_inode *ino, bool samedir,
			struct moved_marks *m)
{
	g_autofree char *val = NULL;
	int r = uf_redirect_for_rename(fs, ino, samedir, &val);

	if (r < 0 || !val)
		return r;
	int fd = uf_inode_upper(ino);
	ssize_t n = fgetxattr(fd, fs->xattr_redirect, NULL, 0);
	if (n >= 0) {
		g_autofree char *old = g_malloc(n + 1);
		n = fgetxattr(fd, fs->xattr_redirect, old, n);
		if (n < 0)
			return -errno; /* changed meanwhile: better not guess */
		if ((size_t)n == strlen(val) && memcmp(old, val, n) == 0)
			return 0; /* already there */
		m->old_value = g_steal_pointer(&old);
		m->old_len = n;
	} else if (errno != ENODATA) {
		return errno == ENOTSUP ? -EXDEV : -errno;
	}
	r = uf_dir_set_redirect(fs, fd, val);
	uf_debug("rename: redirect '%s' written on the moving dir: %d", val, r);
	if (r < 0)
		return r == -ENOTSUP ? -EXDEV : r;
	m->ino = ino;
	m->redirect = true;
	g_mutex_lock(&fs->inodes_lock);
	m->old_redirect = ino->redirect;
	ino->redirect = g_steal_pointer(&val);
	g_mutex_unlock(&fs->inodes_lock);
	return 0;
}

/* A pure-upper dir moving into a merged dir must not start merging with a
 * lower dir of its new name: make it opaque. */
static int keep_unmerged(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *newdir,
			 struct moved_marks *m)
{
	if (!S_ISDIR(ino->type) || ino->nlower > 0 || newdir->nlower == 0)
		return 0;
	int fd = uf_inode_upper(ino);
	if (uf_dir_is_opaque(fs, fd))
		return 0;
	uf_debug("rename: upper-only dir (ino %llu) made opaque: it moves into a merged dir",
		 (unsigned long long)ino->key.ino);
	int r = uf_dir_set_opaque(fs, fd);
	if (r == 0) {
		m->ino = ino;
		m->opaque = true;
	}
	return r;
}

/* The rename failed after the marks were written: take them back. */
static void unmark(struct uf_fs *fs, struct moved_marks *m)
{
	if (!m->ino)
		return;
	int fd = uf_inode_upper(m->ino);
	if (m->redirect) {
		if (m->old_value)
			fsetxattr(fd, fs->xattr_redirect, m->old_value, m->old_len, 0);
		else
			fremovexattr(fd, fs->xattr_redirect);
		g_mutex_lock(&fs->inodes_lock);
		g_free(m->ino->redirect);
		m->ino->redirect = g_steal_pointer(&m->old_redirect);
		g_mutex_unlock(&fs->inodes_lock);
	}
	if (m->opaque)
		fremovexattr(fd, fs->xattr_opaque);
}

/* Take the locks of two directories (one, if the same) in address order. */
static void lock_dirs(struct uf_inode *a, struct uf_inode *b)
{
	if (a == b) {
		g_mutex_lock(&a->lock);
		return;
	}
	g_mutex_lock(a < b ? &a->lock : &b->lock);
	g_mutex_lock(a < b ? &b->lock : &a->lock);
}

static void unlock_dirs(struct uf_inode *a, struct uf_inode *b)
{
	g_mutex_unlock(&a->lock);
	if (a != b)
		g_mutex_unlock(&b->lock);
}

/* Rename in the upper, leaving a whiteout at the old name when @whiteout. */
static int rename_upper(struct uf_fs *fs, int from, const char *name, int to, const char *newname,
			unsigned flags, bool whiteout)
{
	struct stat st;
	int r;

	/* A directory cannot replace a whiteout (a char device): swap them
	 * instead, which also leaves the whiteout where the source was. */
	if (!(flags & RENAME_EXCHANGE) && fstatat(to, newname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    uf_is_whiteout(&st) && fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		r = uf_neg_errno(renameat2(from, name, to, newname, RENAME_EXCHANGE));
		if (r == 0 && !whiteout)
			r = uf_neg_errno(unlinkat(from, name, 0));
		return r;
	}
	/* The name is free in the union: a whiteout there may be replaced. */
	if ((flags & RENAME_NOREPLACE) && fstatat(to, newname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    uf_is_whiteout(&st))
		flags &= ~RENAME_NOREPLACE;
	r = uf_neg_errno(
	    renameat2(from, name, to, newname, flags | (whiteout ? RENAME_WHITEOUT : 0)));
	if (whiteout)
		uf_debug("rename '%s' -> '%s': whiteout left at the old name: %d", name, newname,
			 r);
	if (r < 0 && whiteout && (r == -EINVAL || r == -EPERM || r == -EOPNOTSUPP)) {
		/* No RENAME_WHITEOUT here (privilege or filesystem). */
		r = uf_neg_errno(renameat2(from, name, to, newname, flags));
		if (r == 0)
			r = uf_whiteout_create(fs, from, name);
	}
	return r;
}

static int do_rename(struct uf_fs *fs, struct uf_inode *dir, const char *name,
		     struct uf_inode *newdir, const char *newname, unsigned flags)
{
	struct uf_inode *src = NULL, *dst = NULL;
	struct moved_marks msrc = { 0 }, mdst = { 0 };
	struct stat sst, dst_st;
	struct victim vsrc, vdst;
	bool replace_dst = false;
	int r;

	if (!fs->upper)
		return -EROFS;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	r = uf_check_new_name(fs, newname);
	if (r < 0)
		return r;
	r = find_victim(fs, dir, name, &vsrc);
	if (r < 0)
		return r;
	if (dir == newdir && strcmp(name, newname) == 0)
		return 0; /* onto itself: nothing to do, as for one file's links */
	r = uf_namei(fs, dir, name, &src, &sst);
	if (r < 0)
		return r;
	/* -o redirect_dir=off: as the kernel, refuse before copying anything
	 * up; mv(1) then copies the tree. */
	if (fs->opt.redirect_off && S_ISDIR(src->type) && src->nlower > 0) {
		uf_debug("rename '%s': directory has lower parts, redirect_dir=off: EXDEV", name);
		r = -EXDEV;
		goto out;
	}

	r = find_victim(fs, newdir, newname, &vdst);
	bool dst_exists = r == 0;
	if (r < 0 && r != -ENOENT)
		goto out;
	r = 0;
	if (dst_exists && (flags & RENAME_NOREPLACE)) {
		r = -EEXIST;
		goto out;
	}
	if (!dst_exists && (flags & RENAME_EXCHANGE)) {
		r = -ENOENT;
		goto out;
	}
	if (dst_exists) {
		r = uf_namei(fs, newdir, newname, &dst, &dst_st);
		if (r < 0)
			goto out;
		if (dst == src) /* hard links of one file: nothing to do */
			goto out;
		if (fs->opt.redirect_off && (flags & RENAME_EXCHANGE) && S_ISDIR(dst->type) &&
		    dst->nlower > 0) {
			r = -EXDEV;
			goto out;
		}
		if (!(flags & RENAME_EXCHANGE))
			uf_inode_keep_pin(fs, dst, true); /* it may stay open */
	}
	if (dst_exists && !(flags & RENAME_EXCHANGE)) {
		bool sdir = S_ISDIR(sst.st_mode), ddir = S_ISDIR(dst_st.st_mode);
		if (sdir && !ddir) {
			r = -ENOTDIR;
			goto out;
		}
		if (!sdir && ddir) {
			r = -EISDIR;
			goto out;
		}
		/* A dir only in the upper is replaced by the rename itself,
		 * which fails with ENOTEMPTY if it is not empty: after the
		 * source's copy-up and redirect, as in the kernel (whose
		 * ovl_rename() checks only merged and lower targets first), so
		 * the upper ends up the same. */
		if (ddir && (dst->nlower > 0 || !uf_inode_in_upper(fs, dst))) {
			r = uf_dir_is_empty(fs, dst);
			if (r == 0)
				r = -ENOTEMPTY;
			if (r < 0)
				goto out;
			r = uf_copyup(fs, dst, 0);
			if (r < 0)
				goto out;
			replace_dst = true;
		}
	}

	/* Copy-ups first (they change nothing the union shows), then the
	 * marks and the emptying of the target, each undone or harmless if
	 * a later step fails: a failed rename leaves the upper as it was. */
	r = uf_copyup(fs, src, 0);
	if (r == 0)
		r = uf_index_link_up(fs, src, dir, name);
	if (r == 0 && (flags & RENAME_EXCHANGE))
		r = uf_copyup(fs, dst, 0);
	if (r == 0 && (flags & RENAME_EXCHANGE))
		r = uf_index_link_up(fs, dst, newdir, newname);
	if (r == 0)
		r = uf_copyup(fs, newdir, 0);
	if (r < 0)
		goto out;
	r = set_redirect(fs, src, dir == newdir, &msrc);
	if (r == 0 && (flags & RENAME_EXCHANGE))
		r = set_redirect(fs, dst, dir == newdir, &mdst);
	if (r == 0)
		r = keep_unmerged(fs, src, newdir, &msrc);
	if (r == 0 && (flags & RENAME_EXCHANGE))
		r = keep_unmerged(fs, dst, dir, &mdst);
	/* Last: the union shows an empty dir there either way. */
	if (r == 0 && replace_dst)
		r = uf_dir_replace_empty(fs, uf_inode_upper(newdir), newname);
	if (r < 0)
		goto unmark;

	lock_dirs(dir, newdir);
	g_rw_lock_writer_lock(&fs->rename_lock);
	r = rename_upper(fs, uf_inode_upper(dir), name, uf_inode_upper(newdir), newname, flags,
			 !(flags & RENAME_EXCHANGE) && vsrc.in_lower);
	if (r == 0) {
		if (dst && !(flags & RENAME_EXCHANGE) && !S_ISDIR(dst->type))
			uf_inode_set_unlinked(fs, dst);
		uf_inode_move(fs, src, newdir, newname);
		if (flags & RENAME_EXCHANGE)
			uf_inode_move(fs, dst, dir, name);
	}
	g_rw_lock_writer_unlock(&fs->rename_lock);
	unlock_dirs(dir, newdir);
	if (r < 0)
		goto unmark;
	/* A replaced name of an indexed file: one name fewer (index.c). */
	if (dst && !(flags & RENAME_EXCHANGE) && dst->indexed)
		uf_index_unlinked(fs, dst, !vdst.in_upper);
	if (dst_exists && !(flags & RENAME_EXCHANGE) && vdst.in_upper &&
	    (S_ISDIR(vdst.st.st_mode) || vdst.st.st_nlink <= 1))
		uf_origin_remove(fs, &(struct uf_key){ vdst.st.st_dev, vdst.st.st_ino });
	goto out;
unmark:
	unmark(fs, &msrc);
	unmark(fs, &mdst);
out:
	marks_done(&msrc);
	marks_done(&mdst);
	if (dst)
		uf_inode_forget(fs, dst, 1);
	uf_inode_forget(fs, src, 1);
	return r;
}

static void run_rename(struct uf_job *j)
{
	struct uf_fs *fs = uf_fs_from_req(j->req);

	fuse_reply_err(j->req, -do_rename(fs, uf_inode_from_id(fs, j->ino), j->name,
					  uf_inode_from_id(fs, j->ino2), j->name2, j->flags));
}

/* Renames may copy up a whole file: always on the pool. */
void uf_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct uf_job *j = uf_job_new(run_rename, req);

	j->ino = parent;
	j->name = g_strdup(name);
	j->ino2 = newparent;
	j->name2 = g_strdup(newname);
	j->flags = (int)flags;
	uf_job_submit(uf_fs_from_req(req), j);
}
