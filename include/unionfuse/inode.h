/* The inode table: one struct uf_inode per object the kernel knows, keyed by
 * an identity that survives copy-up; lookup counting; st_ino mapping. */
#pragma once

#include <sys/stat.h>

#include "unionfuse/types.h"
#include "unionfuse/util.h"

#define UF_MAX_BRANCHES 500

/* A snapshot of the real directories (or the one real object) behind an
 * inode, top-first: the upper first when present. */
struct uf_layers {
	unsigned n;
	struct uf_layer v[UF_MAX_BRANCHES + 1];
};

static inline struct uf_inode *uf_inode_from_id(struct uf_fs *fs, fuse_ino_t id)
{
	return id == FUSE_ROOT_ID ? fs->root : (struct uf_inode *)(uintptr_t)id;
}

static inline fuse_ino_t uf_inode_id(struct uf_fs *fs, struct uf_inode *ino)
{
	/* A farm's sandbox root is a child of the farm's root (farm.c). */
	return ino == fs->root && !fs->sandbox ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)ino;
}

static inline int uf_inode_upper(struct uf_inode *ino)
{
	return atomic_load_explicit(&ino->upper, memory_order_acquire);
}

/* The fd of the topmost real directory of directory @ino. */
static inline int uf_inode_top_fd(struct uf_inode *ino)
{
	int fd = uf_inode_upper(ino);
	return fd >= 0 ? fd : ino->lower[0].fd;
}

static inline bool uf_inode_in_upper(const struct uf_fs *fs, struct uf_inode *ino)
{
	if (S_ISDIR(ino->type))
		return uf_inode_upper(ino) >= 0;
	return fs->upper && atomic_load_explicit(&ino->branch, memory_order_acquire) == 0;
}

/* Is the data of regular file @ino in the upper (not only its metadata)? */
static inline bool uf_inode_data_in_upper(const struct uf_fs *fs, struct uf_inode *ino)
{
	return uf_inode_in_upper(fs, ino) &&
	       atomic_load_explicit(&ino->data_branch, memory_order_acquire) == 0;
}

/* Is regular file @ino a metadata-only file whose data is in another real
 * file (an upper copy's lower, or a lower metacopy file's redirect target)? */
static inline bool uf_inode_data_elsewhere(struct uf_inode *ino)
{
	return S_ISREG(ino->type) &&
	       atomic_load_explicit(&ino->data_branch, memory_order_acquire) !=
		   atomic_load_explicit(&ino->branch, memory_order_acquire);
}

/* Show in @st the blocks of the lower data of metadata-only copy @ino. */
void uf_metacopy_blocks(struct uf_fs *fs, struct uf_inode *ino, struct stat *st);

/* A non-directory's real object, reached safely: an O_PATH|O_NOFOLLOW fd on
 * exactly the object the inode stands for (its identity checked after the
 * open, so a name swapped underneath is never acted on), and the
 * /proc/self/fd path of that fd for the calls that take a path; following
 * that magic link reaches the object itself, even a symlink, never what a
 * symlink points to. Release with uf_located_done(). */
struct uf_located {
	int fd;
	char path[UF_PROC_FD_MAX];
};

/* Which real object of a non-dir: the topmost, or the one holding its data
 * (a lower one for a metadata-only copy). */
enum uf_which { UF_TOP, UF_DATA };

/* Locate the @which object of non-dir @ino. Returns 0, -ESTALE when the name
 * now holds another object (the kernel's entry is then invalidated), or
 * -errno. */
int uf_inode_locate(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which,
		    struct uf_located *ret);
void uf_located_done(struct uf_located *loc);

/* Single syscalls on a located object; each returns 0 (or a count) or -errno. */
int uf_loc_open(const struct uf_located *loc, int flags);
int uf_loc_chown(const struct uf_located *loc, uid_t uid, gid_t gid);
int uf_loc_chmod(const struct uf_located *loc, mode_t mode);
int uf_loc_utimens(const struct uf_located *loc, const struct timespec ts[2]);
ssize_t uf_loc_readlink(const struct uf_located *loc, char *buf, size_t size);
int uf_loc_link(const struct uf_located *loc, int newdirfd, const char *newname);

/* stat() the @which object of non-dir @ino, checking its identity (no fd
 * needed). Returns 0, -ESTALE or -errno. */
int uf_inode_stat_real(struct uf_fs *fs, struct uf_inode *ino, enum uf_which which,
		       struct stat *st);

/* Is @st the real object non-dir @ino acts on (its ->real)? Takes
 * inodes_lock. */
bool uf_inode_is_object(struct uf_fs *fs, struct uf_inode *ino, const struct stat *st);

/* Does @st describe the object @want, of type @type? */
static inline bool uf_same_object(const struct stat *st, const struct uf_key *want, mode_t type)
{
	return st->st_dev == want->dev && st->st_ino == want->ino &&
	       (st->st_mode & S_IFMT) == (type & S_IFMT);
}

/* Pin non-dir @ino while a handle has it open; unpin at release. */
void uf_inode_open_pin(struct uf_fs *fs, struct uf_inode *ino);
void uf_inode_open_unpin(struct uf_fs *fs, struct uf_inode *ino);
/* Pin non-dir @ino for good: it has several links in the upper, or, with
 * @last_name, it is about to lose a name that may be its last (then by an
 * fd: a file handle no longer opens an object without names). */
void uf_inode_keep_pin(struct uf_fs *fs, struct uf_inode *ino, bool last_name);
/* Pin non-dir @ino, which has no name (an O_TMPFILE), by its open fd @fd.
 * Returns 0 or -errno. */
int uf_inode_pin_unnamed(struct uf_fs *fs, struct uf_inode *ino, int fd);
/* @ino lost its name in the union (it lives on, pinned, while open). */
void uf_inode_set_unlinked(struct uf_fs *fs, struct uf_inode *ino);
bool uf_inode_is_unlinked(struct uf_fs *fs, struct uf_inode *ino);

/* Move the pin of @ino to its new upper copy. Caller holds ino->lock. */
void uf_inode_repin(struct uf_fs *fs, struct uf_inode *ino);

/* The fd of @dir's real directory in @branch, or -1. */
int uf_dir_layer_fd(struct uf_inode *dir, unsigned branch);

/* Open the topmost real object of @ino with @flags (O_NOFOLLOW added).
 * Returns an fd or -errno. */
int uf_inode_open(struct uf_fs *fs, struct uf_inode *ino, int flags);

/* Open the object holding @ino's data (a lower one after a metadata-only
 * copy-up) with @flags. Returns an fd or -errno. */
int uf_inode_open_data(struct uf_fs *fs, struct uf_inode *ino, int flags);

/* How long the kernel may cache @ino's attributes: not at all for a lower
 * hard link, whose st_nlink and st_ino change when a name of it is copied
 * up; else the mount's timeout. */
static inline double uf_attr_timeout(const struct uf_fs *fs, const struct uf_inode *ino)
{
	return ino->unshared ? 0.0 : fs->timeout;
}

/* Fill @ret with the inode's layers, upper first. */
void uf_inode_layers(struct uf_inode *ino, struct uf_layers *ret);

/* Is @ino a directory merged from more than one real directory? */
bool uf_inode_is_merged(struct uf_inode *ino);

/* The st_ino reported for identity @key: the real ino, with the index of its
 * device in the high bits when it is not the upper's (cf. the kernel's xino).
 * Lockless. */
ino_t uf_st_ino(struct uf_fs *fs, const struct uf_key *key);

/* Map a real (dev, ino) to the identity of the inode that shows it: a
 * copied-up object keeps the identity of its origin. Takes inodes_lock. */
void uf_key_resolve(struct uf_fs *fs, struct uf_key *key);

/* Record that upper object @upper is the copy of identity @origin, replacing
 * any other record of either. Takes inodes_lock. */
void uf_origin_add(struct uf_fs *fs, const struct uf_key *upper, const struct uf_key *origin);
/* Forget the record for upper object @upper (it was deleted). */
void uf_origin_remove(struct uf_fs *fs, const struct uf_key *upper);

/* stat() the inode's topmost object and rewrite st_ino (and st_nlink for
 * merged dirs) as the union shows them. Returns 0 or -errno. */
int uf_inode_stat(struct uf_fs *fs, struct uf_inode *ino, struct stat *st);
void uf_stat_fixup(struct uf_fs *fs, struct uf_inode *ino, struct stat *st);

/* Allocate an unpublished inode named @name: nlookup 0 and refs 1, the
 * builder's ref, which uf_inode_publish() consumes. */
struct uf_inode *uf_inode_alloc(const struct uf_key *key, mode_t type, const char *name);
/* Free an inode never published and never seen by another thread (not
 * watched yet): closes its fds. */
void uf_inode_discard(struct uf_inode *ino);

/* Publish @cand under parent @dir and @name, or find the inode already
 * published with its key; either way count one kernel lookup. @cand and its
 * builder's ref are consumed (it is freed once no other thread holds it).
 * An inode it replaces in the table lives on in fs->retired. Takes
 * inodes_lock. Returns the published inode. */
struct uf_inode *uf_inode_publish(struct uf_fs *fs, struct uf_inode *dir, const char *name,
				  struct uf_inode *cand);

/* As uf_inode_publish(), never reusing @stale (an inode the caller found
 * by its key that is not what @name shows; the caller holds it), nor a
 * directory published under another (parent, name). */
struct uf_inode *uf_inode_publish_over(struct uf_fs *fs, struct uf_inode *dir, const char *name,
				       struct uf_inode *cand, struct uf_inode *stale);

/* Is directory @ino published as @name in @dir? Takes inodes_lock. */
bool uf_inode_is_at(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		    const char *name);

/* Map the real (dev, ino) @key to its identity in place (as
 * uf_key_resolve()), find the published inode with it and count one kernel
 * lookup on it. Returns NULL when there is none. Takes inodes_lock once. */
struct uf_inode *uf_inode_find_lookup(struct uf_fs *fs, struct uf_key *key);

/* As uf_inode_find_lookup(), but take a plain ref (uf_inode_unref()) for a
 * caller that does not hand the inode to the kernel. */
struct uf_inode *uf_inode_find_ref(struct uf_fs *fs, struct uf_key *key);

/* A broken-off lower hard link @ino was copied up to @upper: from now on it
 * is that upper file, found by its identity. Takes inodes_lock. */
void uf_inode_adopt_upper(struct uf_fs *fs, struct uf_inode *ino, const struct uf_key *upper);

/* Take @ino out of the table (a dir whose set of lower parts may have
 * changed, a file whose passthrough backing must change): the next lookup
 * of its name makes a new inode, which the kernel sees as another node. It
 * lives on for the kernel in fs->retired until forgotten. Takes
 * inodes_lock. */
void uf_inode_retire(struct uf_fs *fs, struct uf_inode *ino);

/* Count one more kernel lookup of @ino (it got another name). */
void uf_inode_count_lookup(struct uf_fs *fs, struct uf_inode *ino);

/* The same for an unshared inode, by its parent and name. */
struct uf_inode *uf_inode_find_dentry_lookup(struct uf_fs *fs, struct uf_inode *dir,
					     const char *name);

/* Drop @n kernel lookups. Takes inodes_lock; may free the inode. */
void uf_inode_forget(struct uf_fs *fs, struct uf_inode *ino, uint64_t n);

/* Drop an internal reference (taken by uf_inode_get_parent() and the like). */
void uf_inode_unref(struct uf_fs *fs, struct uf_inode *ino);

/* Set the upper directory of dir @ino to @fd (consumed). Caller holds
 * ino->lock or owns the unpublished inode. */
void uf_inode_set_upper(struct uf_inode *ino, int fd);

/* Note that non-dir @ino is now upper object @upper, its data still in
 * branch @data_branch (0: the upper too). Caller holds ino->lock. */
void uf_inode_set_in_upper(struct uf_fs *fs, struct uf_inode *ino, const struct uf_key *upper,
			   unsigned data_branch);

/* Remember @dir/@name as the name of non-dir @ino when it has another
 * (after a lookup by another hard link). Takes inodes_lock. */
void uf_inode_renamed(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		      const char *name);

/* Move @ino under @newdir as @newname (after a rename). Takes inodes_lock. */
void uf_inode_move(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *newdir,
		   const char *newname);

/* Copy of the parent and name of @ino, with a ref on the parent. Returns 0,
 * or -ENOENT for the root. Takes inodes_lock. */
int uf_inode_get_parent(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode **ret_parent,
			char **ret_name);

/* The path of directory @ino in the branch below the upper ("/a/b"): its
 * union path with each inode's own (upper) redirect in place of its name,
 * an absolute one ending the walk, as the kernel's ovl_get_redirect().
 * Redirects in lower branches are not used: they apply below their own
 * branch, where the lookup follows them. Takes inodes_lock. */
char *uf_inode_lower_path(struct uf_fs *fs, struct uf_inode *ino);

/* The table's hash and equality, and the destroy function for teardown. */
guint uf_key_hash(gconstpointer k);
/* Hash and equality of an inode by (parent, name), for fs->unshared. */
guint uf_dentry_hash(gconstpointer k);
gboolean uf_dentry_equal(gconstpointer a, gconstpointer b);
gboolean uf_key_equal(gconstpointer a, gconstpointer b);
void uf_inode_free(struct uf_inode *ino);
