/* FUSE passthrough (libfuse with FUSE_CAP_PASSTHROUGH: 3.16 on; the bundled
 * one is 3.18): the kernel reads and writes an open file's real object
 * itself (FOPEN_PASSTHROUGH with a backing file registered on /dev/fuse).
 *
 * The kernel's rules, which every open of an inode must follow or the
 * caller's open(2) fails with EIO (fs/fuse/iomode.c):
 * - a kernel inode has at most one backing file at a time: while any file
 *   of it is open in passthrough, every other open must name the same one;
 * - passthrough and cached opens (the daemon's read/write) of one inode
 *   exclude each other.
 * So each inode with open files has one record here: the backing file
 * (registered once, with the widest access it may need: read-write in the
 * upper, read-only in a lower), or "cached" when passthrough could not be
 * had; later opens follow it until the last is released. Our count is never
 * below the kernel's (it releases a file before it sends RELEASE), so what
 * we answer always fits the kernel's state.
 *
 * Copy-up breaks the first rule: readers may have the inode open with its
 * lower file as backing when a writer needs the upper copy. So by default
 * (-o passthrough=auto) a lower file of a writable union is not backed:
 * its readers are served by the daemon, which switches them to the copy
 * as the kernel overlayfs does. With -o passthrough=on it is. That writer (and
 * any later open) gets another kernel inode: this one is retired from the
 * table and the open answered ESTALE, on which the kernel looks the name up
 * again (LOOKUP_REVAL: a new inode) and retries the open once. The readers
 * keep reading the lower data until they close: the kernel overlayfs does
 * that only for MAP_SHARED mappings ("Non-standard behavior" in its
 * documentation); read() there sees the copy.
 *
 * One kind of lower open is backed under auto too: exec (execve() opens
 * with __FMODE_EXEC, which FUSE passes on). A running program is read
 * through its mappings, which the kernel overlayfs also makes on the lower
 * file and keeps across a copy-up; and while it runs its kernel inode
 * refuses writers (ETXTBSY), so no copy-up happens through it. Readers
 * that open it meanwhile follow the lower backing; a writer gets ETXTBSY
 * from us until they have closed too (the kernel overlayfs lets a writer
 * in once the program has ended), so none of them misses a copy. Page
 * faults of programs run from a lower (a sandbox's /usr) need no round
 * trip, and their pages are cached once, in the lower's page cache. */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "unionfuse/inode.h"
#include "unionfuse/inval.h"
#include "unionfuse/passthrough.h"
#include "unionfuse/util.h"

#ifdef FUSE_CAP_PASSTHROUGH

/* The kernel's ABI (include/uapi/linux/fuse.h, 7.40): libfuse's header that
 * has it is private, and Debian 12's kernel headers predate it. */
#ifndef FUSE_DEV_IOC_BACKING_OPEN
struct fuse_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_DEV_IOC_MAGIC 229
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

enum { PT_NONE, PT_BACKED, PT_CACHED };

/* The kernel's __FMODE_EXEC (include/linux/fs.h): in the open flags FUSE
 * sends for execve() and uselib(). */
#define UF_FMODE_EXEC 0x20

/* One inode's open files. */
struct pt_rec {
	int backing_id;	   /* > 0, or 0: the files are served by the daemon */
	struct uf_key key; /* the backing file's real object */
	bool writable;	   /* registered read-write */
	bool exec_only;	   /* a lower file backed for exec opens only (auto) */
	unsigned nopen;
};

struct uf_passthrough {
	atomic_bool on;	     /* granted at init: every open is counted */
	atomic_bool refused; /* the kernel refused a backing file (EPERM) */
	bool all;	     /* -o passthrough=on: lower files of a writable union too */
	GMutex lock;	     /* innermost */
	GHashTable *recs;    /* struct uf_inode * -> struct pt_rec * */
};

void uf_passthrough_init(struct uf_fs *fs, struct fuse_conn_info *conn)
{
	const char *why = NULL;

	if (!fs->pt)
		why = "-o passthrough=off";
	else if (!(conn->capable & FUSE_CAP_PASSTHROUGH))
		why = "the kernel does not offer it (needs 6.9 and CONFIG_FUSE_PASSTHROUGH)";
	else if (fs->writeback)
		why = "-o writeback excludes it";
	else if (geteuid() != 0)
		why = "registering backing files needs CAP_SYS_ADMIN (root)";
	if (why) {
		uf_debug("passthrough: off: %s", why);
		return;
	}
	conn->want |= FUSE_CAP_PASSTHROUGH;
	/* Backing files on a plain filesystem only: with 0 a union can still
	 * be stacked under an overlayfs; a branch on a stacked filesystem
	 * just gets no passthrough (ELOOP from the kernel, per file). */
	conn->max_backing_stack_depth = 0;
	atomic_store(&fs->pt->on, true);
	uf_debug("passthrough: on, %s",
		 fs->pt->all || !fs->upper
		     ? "for every regular file"
		     : "for files whose data is in the upper (-o passthrough=on: lower files too)");
}

struct uf_passthrough *uf_passthrough_new(bool all)
{
	struct uf_passthrough *pt = g_new0(struct uf_passthrough, 1);

	pt->all = all;
	g_mutex_init(&pt->lock);
	pt->recs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	return pt;
}

void uf_passthrough_free(struct uf_fs *fs)
{
	struct uf_passthrough *pt = g_steal_pointer(&fs->pt);

	if (!pt)
		return;
	g_hash_table_unref(pt->recs);
	g_mutex_clear(&pt->lock);
	g_free(pt);
}

static void backing_close(struct uf_fs *fs, int id)
{
	if (ioctl(fuse_session_fd(fs->se), FUSE_DEV_IOC_BACKING_CLOSE, &id) < 0)
		uf_log_limited(LOG_WARNING, "passthrough: closing backing file %d: %s", id,
			       g_strerror(errno));
}

/* Register @ino's data as a backing file: read-write when it is in the
 * upper (a writer may share it), else read-only. Returns the id (> 0) and
 * whether it is writable, or -errno. */
static int backing_open(struct uf_fs *fs, struct uf_inode *ino, const struct uf_key *key,
			bool *ret_writable)
{
	bool writable = uf_inode_data_in_upper(fs, ino);
	_cleanup_close_ int fd =
	    uf_inode_open_data(fs, ino, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	struct stat st;

	/* Read-only in the upper, or ETXTBSY: readers can still have it. */
	if (fd < 0 && writable) {
		writable = false;
		fd = uf_inode_open_data(fs, ino, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!uf_same_object(&st, key, S_IFREG))
		return -ESTALE; /* moved meanwhile: this open goes without */
	struct fuse_backing_map map = { .fd = fd };
	int id = ioctl(fuse_session_fd(fs->se), FUSE_DEV_IOC_BACKING_OPEN, &map);
	if (id < 0)
		return -errno;
	if (id == 0)
		return -EIO;
	*ret_writable = writable;
	return id;
}

int uf_passthrough_open(struct uf_fs *fs, struct uf_inode *ino, int fd, int flags,
			struct fuse_file_info *fi, struct uf_file *f)
{
	struct uf_passthrough *pt = fs->pt;
	bool need_write = (flags & O_ACCMODE) != O_RDONLY;
	/* auto: a lower file may be backed for an exec only. */
	bool lower_auto = !pt || (!pt->all && fs->upper && !uf_inode_data_in_upper(fs, ino));
	bool exec = (flags & UF_FMODE_EXEC) && !need_write;
	struct stat st;

	if (!pt || !atomic_load(&pt->on) || !S_ISREG(ino->type))
		return 0;
	/* From here on every open of the inode is counted, passthrough or
	 * not: the kernel must never see both kinds at once. */
	struct uf_key key = { 0, 0 };
	if (fstat(fd, &st) == 0)
		key = (struct uf_key){ st.st_dev, st.st_ino };

	int new_id = 0;
	bool new_writable = false;
	for (;;) {
		g_autoptr(GMutexLocker) l = g_mutex_locker_new(&pt->lock);
		struct pt_rec *rec = g_hash_table_lookup(pt->recs, ino);

		if (rec) {
			if (!rec->backing_id) {
				rec->nopen++;
				f->pt = PT_CACHED;
				break;
			}
			if (rec->exec_only && need_write) {
				/* The kernel's ETXTBSY for a running program,
				 * kept until its readers close too. */
				g_clear_pointer(&l, g_mutex_locker_free);
				if (new_id > 0)
					backing_close(fs, new_id);
				return -ETXTBSY;
			}
			if (!uf_key_equal(&rec->key, &key) || (need_write && !rec->writable)) {
				/* Backed by another file (the lower one, before
				 * a copy-up): this open needs a new kernel inode. */
				g_clear_pointer(&l, g_mutex_locker_free);
				if (new_id > 0)
					backing_close(fs, new_id);
				uf_debug("passthrough: '%s' is backed by its old copy: new inode",
					 ino->name);
				uf_inode_retire(fs, ino);
				uf_inode_invalidate_name(fs, ino);
				return -ESTALE;
			}
			rec->nopen++;
			f->pt = PT_BACKED;
			fi->backing_id = rec->backing_id;
			break;
		}
		if (new_id != 0 || !key.ino) {
			/* First open: ours (or none, id < 0) is the backing. */
			rec = g_new0(struct pt_rec, 1);
			rec->backing_id = MAX(new_id, 0);
			rec->key = key;
			rec->writable = new_writable;
			rec->exec_only = new_id > 0 && lower_auto;
			rec->nopen = 1;
			g_hash_table_insert(pt->recs, ino, rec);
			new_id = 0;
			f->pt = rec->backing_id ? PT_BACKED : PT_CACHED;
			fi->backing_id = rec->backing_id;
			break;
		}
		/* Register outside the lock (it opens by name), then look again:
		 * another open may have got there first. */
		g_clear_pointer(&l, g_mutex_locker_free);
		if (atomic_load(&pt->refused))
			new_id = -EPERM;
		else if (lower_auto && !exec)
			new_id = -EXDEV; /* auto: a lower file that may be copied up */
		else
			new_id = backing_open(fs, ino, &key, &new_writable);
		if (new_id == -EPERM) {
			if (!atomic_exchange(&pt->refused, true))
				uf_log(LOG_WARNING,
				       "passthrough: the kernel refuses backing files: reads and "
				       "writes go through the daemon");
		} else if (new_id < 0 && new_id != -EXDEV) {
			uf_log_limited(LOG_INFO, "passthrough: not for '%s': %s", ino->name,
				       g_strerror(-new_id));
		}
		if (new_id > 0 && need_write && !new_writable) {
			backing_close(fs, new_id);
			new_id = -EROFS;
		}
	}
	if (new_id > 0)
		backing_close(fs, new_id); /* lost the race: the other one is used */
	if (f->pt == PT_BACKED)
		fi->keep_cache = 0; /* not allowed with FOPEN_PASSTHROUGH (EIO) */
	return 0;
}

void uf_passthrough_release(struct uf_fs *fs, struct uf_inode *ino, struct uf_file *f)
{
	struct uf_passthrough *pt = fs->pt;
	int id = 0;

	if (!pt || f->pt == PT_NONE)
		return;
	g_mutex_lock(&pt->lock);
	struct pt_rec *rec = g_hash_table_lookup(pt->recs, ino);
	if (!UF_WARN_ON(!rec) && --rec->nopen == 0) {
		id = rec->backing_id;
		g_hash_table_remove(pt->recs, ino);
	}
	g_mutex_unlock(&pt->lock);
	if (id > 0)
		backing_close(fs, id);
}

bool uf_passthrough_active(const struct uf_fs *fs)
{
	return fs->pt && atomic_load(&fs->pt->on);
}

#else /* libfuse without passthrough (< 3.16) */

void uf_passthrough_init(struct uf_fs *fs, struct fuse_conn_info *conn)
{
	(void)conn;
	uf_debug("passthrough: off: libfuse %s has no passthrough (needs >= 3.18)",
		 fuse_pkgversion());
	uf_passthrough_free(fs);
}

struct uf_passthrough *uf_passthrough_new(bool all)
{
	(void)all;
	return NULL;
}

void uf_passthrough_free(struct uf_fs *fs)
{
	fs->pt = NULL;
}

int uf_passthrough_open(struct uf_fs *fs, struct uf_inode *ino, int fd, int flags,
			struct fuse_file_info *fi, struct uf_file *f)
{
	(void)fs, (void)ino, (void)fd, (void)flags, (void)fi, (void)f;
	return 0;
}

void uf_passthrough_release(struct uf_fs *fs, struct uf_inode *ino, struct uf_file *f)
{
	(void)fs, (void)ino, (void)f;
}

bool uf_passthrough_active(const struct uf_fs *fs)
{
	(void)fs;
	return false;
}

#endif
