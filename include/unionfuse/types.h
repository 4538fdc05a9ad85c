/* The core structures of a mounted union: the filesystem, its branches and
 * its inodes. Mapping to kernel overlayfs: a "branch" is a layer; branches[0]
 * is the upper layer when the union is writable.
 *
 * Lock order, outermost first:
 *   an inode's ->lock, then its parent directory's (an rmdir holds the
 *   child dir's, then the parent's; a rename two directories' in address
 *   order), then fs->rename_lock (read: name -> fd in uf_inode_locate(),
 *   never held across other work; write: a rename, from renameat2() to the
 *   names' update), then fs->inodes_lock, then fs->xattr_lock (innermost).
 * A copy-up holds its inode's lock and takes the parent's to publish; a
 * change to a directory's upper entries holds that directory's lock.
 * On the request loop's thread no inode lock is waited for: a busy one
 * sends the request to the worker pool (worker.h, uf_inode_trylock()).
 * Never hold a lock across a fuse_reply_*() call: a reply may trigger a
 * forget that frees the inode, nor across a kernel invalidation (inval.h).
 *
 * Identity: a non-dir inode acts only on the real object whose (dev, ino,
 * type) it recorded (->real, ->data_real); see uf_inode_locate().
 *
 * Ref rule: an inode lives while ->refs > 0 and is freed, under
 * fs->inodes_lock, the moment it drops to 0. So every pointer to an inode
 * that is used after fs->inodes_lock is dropped, or handed to the kernel as
 * a node id, must be covered by a ref taken under that lock, in the same
 * critical section that found the inode. The refs are:
 *  - the kernel's: one for nlookup > 0. A node id goes to the kernel only
 *    with a lookup counted for it (uf_inode_publish(), the *_lookup()
 *    finders); its FORGET drops it. Never count a lookup on an inode the
 *    kernel will not be told about without forgetting it again.
 *  - each child's ->parent;
 *  - the builder's: uf_inode_alloc() returns an inode with refs 1, so a
 *    candidate is safe once other threads can see it (the notify thread
 *    finds it through its watches before it is published); publishing
 *    turns that ref into the kernel's lookup, or drops it when another
 *    inode wins;
 *  - each call in flight that holds a pointer: uf_inode_get_parent(),
 *    uf_inode_locate(), the notify thread's watchers and children.
 * The tables (fs->inodes, ->unshared, ->retired, ->watches) hold no ref: an
 * inode leaves them when it is freed. A pointer compared after the lock is
 * dropped (is this the inode I found stale?) must still be held, or its
 * address may already belong to a new inode. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define UF_MAX_DEVS 64 /* distinct st_dev values we can map into st_ino */

struct uf_branch {
	char *path; /* absolute, resolved once at start */
	int fd;	    /* O_RDONLY|O_DIRECTORY on the branch root */
	dev_t dev;  /* of the root */
	ino_t ino;
	unsigned name_max; /* f_namelen of the branch's filesystem */
	unsigned index;	   /* position in fs->branches, 0 = top */
	bool writable;	   /* only the upper */
	bool nosuid;	   /* on a nosuid mount: its setuid bits and capabilities are inert */
	uint8_t uuid[16];  /* of its filesystem, as origins record it (index.c) */
};

/* Identity of a real object: what a hash table of inodes is keyed by. */
struct uf_key {
	dev_t dev;
	ino_t ino;
};

/* A real directory in one branch (O_RDONLY|O_DIRECTORY). */
struct uf_layer {
	int fd;
	int wd; /* its inotify watch (lowers only), or -1 */
	uint16_t branch;
};

struct uf_inode {
	/* Identity: the origin's (dev, ino); it survives copy-up, so st_ino
	 * does too. Immutable. First, so that an inode is its own key in the
	 * fs->inodes set. */
	struct uf_key key;
	/* Non-dirs: the (dev, ino) of the real object that ->branch names, and
	 * of the one holding the data (they differ for a metadata-only copy).
	 * Every call that reaches the object by name checks it against these
	 * before acting, so a name swapped underneath (a symlink put in the
	 * upper, a rename in a shared lower) is never acted on. inodes_lock. */
	struct uf_key real, data_real;
	uint64_t nlookup;	 /* fs->inodes_lock: the kernel's lookup count */
	struct uf_inode *parent; /* fs->inodes_lock; holds a ref */
	char *name;		 /* fs->inodes_lock: ->name_buf, or g_malloc'd */

	/* Directories hold an fd per real directory merged into them: the
	 * upper's (or -1) and the lowers', top-first. Non-directories hold no
	 * fd, so a walk of a big tree cannot run out of them: they are found by
	 * ->name in their parent's layer of ->branch. */
	struct uf_layer *lower; /* dirs: immutable once published */
	char *redirect;		/* fs->inodes_lock: its upper dir's overlay.redirect ("/a/b" or "b") */
	GMutex lock;		/* its copy-up; for a dir also changes to its upper entries */

	uint32_t refs;	   /* fs->inodes_lock: see the ref rule above */
	_Atomic int upper; /* dirs: set once under ->lock; lockless reads */

	/* An O_PATH fd on a non-directory's topmost object while it has no
	 * reliable name: while it is open (it may be unlinked) or has several
	 * upper links (its name may go). fs->inodes_lock. */
	int pin;
	uint32_t nopen; /* fs->inodes_lock: open file handles */
	/* Instead of a pin where the daemon may open by handle (root): the
	 * object's file handle in branch ->fh_branch, so that an upper of
	 * 20,000 hard links does not cost 20,000 fds. fs->inodes_lock. */
	struct file_handle *fh;
	uint16_t fh_branch;

	uint16_t type;		 /* S_IFMT bits, immutable */
	uint16_t nlower;	 /* dirs: immutable once published */
	_Atomic uint16_t branch; /* non-dirs: 0 once in the upper (set under ->lock) */
	/* Regular files: the branch holding the data. It differs from ->branch
	 * after a metadata-only copy-up (chmod of a big lower file), until the
	 * first write copies the data too. Set under ->lock. */
	_Atomic uint16_t data_branch;
	/* Regular files whose data is reached by a metacopy file's redirect
	 * (metacopy.c): the path of the data in ->data_branch, absolute (from
	 * that branch's root, e.g. a data-only branch) or one name in the
	 * parent's layer; NULL: ->name there. fs->inodes_lock. */
	char *data_path;
	/* A lower hard link in a writable union: copy-up will break it off its
	 * other names (as the kernel without index=on), so each name gets its
	 * own inode and none is in the table. Immutable. */
	bool unshared;
	bool pin_keep; /* fs->inodes_lock: keep the pin while the inode lives */
	bool unlinked; /* fs->inodes_lock: its name is gone: no copy-up */
	/* Known to have no xattrs at all: getxattr answers ENODATA at once.
	 * The kernel asks for security.capability before every write and
	 * ls -l for security.selinux on every file. Cleared by any change. */
	atomic_bool xattr_none;
	/* The union it belongs to (set when published): a farm (farm.c) serves
	 * many unions on one session, and a node id must lead to its own. */
	struct uf_fs *fs;
	/* index=on: a copied-up lower hard link, reached through its index
	 * entry (index.c); the union's st_nlink is the upper's plus
	 * ->nlink_diff (overlay.nlink). */
	bool indexed;
	_Atomic int nlink_diff;
	uint8_t name_cap; /* bytes ->name_buf holds (255 at most) */
	char name_buf[];  /* the name it was looked up by, inline: saves a malloc */
};

struct uf_fs {
	unsigned n_branches;	    /* the merged ones; data-only ones follow */
	unsigned n_data;	    /* data-only branches: branches[n_branches...] */
	struct uf_branch *branches; /* top-first */
	struct uf_branch *upper;    /* &branches[0], or NULL when read-only */
	int work_fd;		    /* workdir for temp files, or -1 */
	unsigned name_max;	    /* smallest NAME_MAX over the branches */

	char *xattr_prefix; /* "trusted.overlay." or "user.overlay." */
	char *xattr_opaque; /* <prefix>opaque */
	char *xattr_redirect;
	char *xattr_metacopy;
	char *xattr_origin; /* <prefix>origin: written on copy-up (index.c) */
	char *xattr_nlink;
	char *xattr_impure; /* <prefix>impure: set on a copy's upper parent */
	bool origin_xattrs; /* the lowers have file handles: origins are written */
	bool index;	    /* -o index=on: lower hard links copied up via index/ */
	int index_fd;	    /* WORKDIR/index with index=on, else -1 */
	atomic_bool redirect_warned; /* an invalid overlay.redirect was logged */

	_Atomic double timeout; /* entry and attribute cache timeout, seconds */
	bool timeout_set;	/* given by the user: keep it whatever happens */

	/* Lower-branch change notification (notify.c). */
	int inotify_fd;	    /* -1 when there is none */
	int notify_stop_fd; /* eventfd that ends the thread */
	GThread *notify_thread;
	struct fuse_session *se; /* set once mounted; NULL before */
	GThreadPool *inval_pool; /* one thread: invalidations of stale names */
	GHashTable *watches; /* inodes_lock: wd -> GPtrArray of dir inodes */

	GThreadPool *pool; /* worker.c: for requests that may block; NULL with -s */
	struct uf_passthrough *pt; /* passthrough.c; NULL when not in use */
	/* The kernel's writeback cache (-o writeback): write errors then show
	 * at close() or fsync(), not at the write() (docs/design.md). */
	bool writeback;
	/* FUSE_HANDLE_KILLPRIV_V2: asked for (-o killpriv=on), then whether the
	 * kernel agreed. Writes then carry the killing of setuid/setgid to us
	 * (file.c), and the kernel stops asking for security.capability
	 * before each write. */
	bool killpriv_want, killpriv_v2;
	/* The same negotiated by io.c where libfuse (< 3.18) cannot: what the
	 * kernel's INIT request offered, and the flag to add to the reply. */
	uint64_t init_unique;
	uint32_t init_offered, init_add;
	bool uring_want; /* -o io_uring asked libfuse for its ring (uring.c) */
	bool tmpfile_off; /* -o tmpfile=off: O_TMPFILE is EOPNOTSUPP, as on 3.14 */
	bool posix_acl; /* the kernel sends modes unmasked: apply the umask */
	bool metacopy;	/* metadata-only copy-up for chmod/chown/utimes/setxattr */
	bool handles;	/* open_by_handle_at() works on the branches (root) */
	/* Root with user.overlay.* xattrs: redirects and metacopy marks on the
	 * branches are not followed (EPERM) nor written, as by the kernel. */
	bool untrusted_xattrs;
	bool volatile_upper; /* -o volatile/fsync=0: no fsync of copies, fsync does nothing */
	bool volatile_marker; /* the workdir holds our volatile marker: remove at unmount */
	/* Our user namespace (modes.c): the ids that stat as unmapped (the
	 * overflow ids, or -1 when they are mapped themselves), and whether
	 * it is the initial one, where capable() is answered. */
	uid_t unmapped_uid;
	gid_t unmapped_gid;
	bool init_userns;

	/* Readers: every call that reaches a non-dir by its parent and name
	 * (uf_inode_locate() to uf_located_done(), pinning). Writer: a rename,
	 * from renameat2() until the inodes' names are updated. So no call
	 * opens the object that was at a name a moment ago. */
	GRWLock rename_lock;
	GMutex xattr_lock; /* xattr changes vs. noting an inode has none; innermost */
	GMutex files_lock; /* ->files; taken alone */
	GHashTable *files; /* set of open struct uf_file *, freed at teardown */
	GMutex inodes_lock;
	GHashTable *inodes;  /* set of struct uf_inode *, each its own key */
	GHashTable *origins; /* upper key -> origin key, for copied-up objects */
	GHashTable *copies;  /* origin key -> upper key: the inverse, one to one */
	/* Lower hard links in a writable union (->unshared inodes) are one
	 * inode per name, as dentries: keyed by (parent, name) here. */
	GHashTable *unshared;
	/* Live inodes out of ->inodes/->unshared: retired (their lower parts
	 * changed) or displaced by a newer inode for the same key. */
	GHashTable *retired;
	struct uf_inode *root;

	/* st_dev values mapped to a small index for st_ino; append-only. */
	GMutex devs_lock;
	dev_t devs[UF_MAX_DEVS];
	_Atomic unsigned n_devs;

	/* Deployments (docs/deployments.md): io.c watches the requests and
	 * replies, idle.c unmounts an idle union. */
	_Atomic int64_t last_request; /* g_get_monotonic_time() of the last one read */
	atomic_uint open_handles;     /* file and dir handles the kernel holds */
	atomic_uint jobs;	      /* requests queued to or running on the pool */
	atomic_bool enospc_logged;    /* "the upper is full" was said */
	int spin_us;		      /* -o spin=; 0: block in read() */
	int spin_score;		      /* io.c, loop thread only: > 0 spin */
	bool tmpupper;		      /* the upper is -o tmpupper's */
	struct uf_idle *idle;	      /* -o idle_timeout, or NULL */

	/* -o options of the kernel overlayfs and fuse-overlayfs that change
	 * what the union shows (params.h); immutable. */
	struct {
		bool noacl;	    /* no FUSE_CAP_POSIX_ACL; system.posix_acl_* refused */
		bool noxattrs;	    /* every xattr call fails with EOPNOTSUPP */
		bool static_nlink;  /* directories report st_nlink 1 */
		bool redirect_off;  /* redirect_dir=off: no redirect is written */
		int64_t squash_uid; /* reported st_uid, or -1 */
		int64_t squash_gid; /* reported st_gid, or -1 */
	} opt;

	/* -o farm (farm.c): the farm this union is a sandbox of (NULL
	 * otherwise), or on the farm's base union, the farm itself. A
	 * sandbox's st_ino values are XORed with ->ino_salt (its number in
	 * bits 40-55) so that two sandboxes never show one st_ino. */
	struct uf_farm *farm;
	bool sandbox;
	uint64_t ino_salt;
};

/* farm.c: the union the calling thread's request is for, when the session
 * serves many (a farm); NULL otherwise. */
extern _Thread_local struct uf_fs *uf_req_fs;

static inline struct uf_fs *uf_fs_from_req(fuse_req_t req)
{
	return uf_req_fs ? uf_req_fs : fuse_req_userdata(req);
}
