/* Extended attributes. The format's own overlay.* names are never shown nor
 * settable through the union; setting or removing another name copies the
 * object up first. Directories are reached by their fds, other objects by
 * the /proc/self/fd path of an O_PATH fd on exactly that object (inode.h:
 * uf_located), which also works for symlinks and special files. trusted.*
 * names are listed only to callers with CAP_SYS_ADMIN, as the kernel
 * overlayfs lists them. */
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "unionfuse/copyup.h"
#include "unionfuse/inode.h"
#include "unionfuse/ops.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"
#include "unionfuse/worker.h"
#include "unionfuse/xattr.h"

/* A file capability of a regular file still in a nosuid lower is inert
 * there: the union neither shows it nor copies it up (modes.c). */
static bool inert_capability(struct uf_fs *fs, struct uf_inode *ino, const char *name)
{
	return strcmp(name, "security.capability") == 0 && S_ISREG(ino->type) &&
	       !uf_inode_in_upper(fs, ino) && fs->branches[atomic_load(&ino->branch)].nosuid;
}

static bool is_acl_xattr(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	       strcmp(name, "system.posix_acl_default") == 0;
}

/* Names that -o noacl/-o noxattrs take away: refused with EOPNOTSUPP, as
 * by a filesystem without them. */
static bool xattr_disabled(const struct uf_fs *fs, const char *name)
{
	return fs->opt.noxattrs || (fs->opt.noacl && is_acl_xattr(name));
}

/* Is the line "@key:\t..." of /proc/PID/status text @status there? Returns
 * what follows the tab, or NULL. */
static const char *status_field(const char *status, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':' && p[n + 1] == '\t')
			return p + n + 2;
	return NULL;
}

/* Does the caller of @req have CAP_SYS_ADMIN in our user namespace, which is
 * what the kernel overlayfs checks before listing a trusted.* name
 * (ovl_can_list())? FUSE tells us only the caller's pid and fs ids, so read
 * its /proc/PID/status. Conservative, since a wrong yes shows a name the
 * kernel would hide: no when the pid is 0 (the caller is in another pid
 * namespace), the process is gone, its fs uid is not the request's (the
 * pid was reused), or it lives in another user namespace (its capabilities
 * are that namespace's). So even uid 0 sees no trusted.* names then; the
 * kernel still lets it getxattr() a name it knows. */
static bool caller_has_sys_admin(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	g_autofree char *path = NULL, *status = NULL;
	unsigned long long cap;
	unsigned ruid, euid, suid, fsuid;
	struct stat self_ns, caller_ns;
	const char *v;

	if (ctx->pid <= 0)
		return false;
	path = g_strdup_printf("/proc/%d/status", (int)ctx->pid);
	if (!g_file_get_contents(path, &status, NULL, NULL))
		return false;
	v = status_field(status, "Uid");
	if (!v || sscanf(v, "%u %u %u %u", &ruid, &euid, &suid, &fsuid) != 4 || fsuid != ctx->uid)
		return false;
	v = status_field(status, "CapEff");
	if (!v || sscanf(v, "%llx", &cap) != 1 || !(cap & (1ULL << CAP_SYS_ADMIN)))
		return false;
	g_free(path);
	path = g_strdup_printf("/proc/%d/ns/user", (int)ctx->pid);
	if (stat("/proc/self/ns/user", &self_ns) < 0 || stat(path, &caller_ns) < 0 ||
	    self_ns.st_ino != caller_ns.st_ino || self_ns.st_dev != caller_ns.st_dev)
		return false;
	return true;
}

/* The xattr object of @ino's topmost real object; release @loc with
 * xobj_done(). */
static int inode_xobj(struct uf_fs *fs, struct uf_inode *ino, struct uf_xobj *ret,
		      struct uf_located *loc)
{
	*loc = (struct uf_located){ .fd = -1 };
	if (S_ISDIR(ino->type)) {
		*ret = (struct uf_xobj){ .fd = uf_inode_top_fd(ino) };
		return 0;
	}
	int r = uf_inode_locate(fs, ino, UF_TOP, loc);
	if (r < 0)
		return r;
	/* l*xattr() would act on the /proc link itself: follow it. */
	*ret = (struct uf_xobj){ .fd = -1, .path = loc->path, .follow = true };
	return 0;
}

static void xobj_done(struct uf_fs *fs, struct uf_located *loc)
{
	(void)fs;
	uf_located_done(loc);
}

void uf_ll_getxattr(fuse_req_t req, fuse_ino_t id, const char *name, size_t size)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_located loc;
	struct uf_xobj o;

	/* No check of trusted.* here: the kernel refused it already to a
	 * caller without CAP_SYS_ADMIN (xattr_permission()), and knows better
	 * than we could. */
	if (xattr_disabled(fs, name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	if (atomic_load_explicit(&ino->xattr_none, memory_order_relaxed) ||
	    inert_capability(fs, ino, name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	int r = inode_xobj(fs, ino, &o, &loc);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	g_autofree char *buf = size ? g_malloc(size) : NULL;
	g_autofree char *disk = uf_xattr_to_disk(fs->xattr_prefix, name);
	ssize_t n = strlen(disk) > XATTR_NAME_MAX ? -ENODATA : uf_xget(&o, disk, buf, size);
	/* A branch without ACLs (squashfs) has no ACL, as overlayfs says: the
	 * kernel turns any error but ENODATA here into the error of every
	 * permission check by a caller who is not the owner. */
	if (n == -EOPNOTSUPP && is_acl_xattr(name))
		n = -ENODATA;
	/* A miss: if the object has no xattrs at all, remember that (under
	 * the lock that xattr changes hold, so none slips in between). */
	if (n == -ENODATA) {
		g_mutex_lock(&fs->xattr_lock);
		if (uf_xlist(&o, NULL, 0) == 0)
			atomic_store(&ino->xattr_none, true);
		g_mutex_unlock(&fs->xattr_lock);
	}
	xobj_done(fs, &loc);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

void uf_ll_listxattr(fuse_req_t req, fuse_ino_t id, size_t size)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_located loc;
	g_autofree char *raw = NULL;
	struct uf_xobj o;

	if (fs->opt.noxattrs) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	struct uf_inode *ino = uf_inode_from_id(fs, id);
	int r = inode_xobj(fs, ino, &o, &loc);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* The private names must be filtered, so always fetch the list. */
	ssize_t n = uf_xlist_all(&o, &raw);
	xobj_done(fs, &loc);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	g_autoptr(GString) out = g_string_new(NULL);
	int trusted_ok = -1; /* caller_has_sys_admin(), asked when needed */
	for (ssize_t i = 0; i < n; i += strlen(raw + i) + 1) {
		g_autofree char *name = uf_xattr_from_disk(fs->xattr_prefix, raw + i);
		if (!name || (fs->opt.noacl && is_acl_xattr(name)) ||
		    inert_capability(fs, ino, name))
			continue;
		if (g_str_has_prefix(name, "trusted.")) {
			if (trusted_ok < 0)
				trusted_ok = caller_has_sys_admin(req);
			if (!trusted_ok)
				continue;
		}
		g_string_append_len(out, name, strlen(name) + 1);
	}
	if (size == 0)
		fuse_reply_xattr(req, out->len);
	else if (out->len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out->str, out->len);
}

static int set_or_remove(struct uf_fs *fs, struct uf_inode *ino, const char *name,
			 const char *value, size_t size, int flags, bool remove)
{
	struct uf_located loc;
	struct uf_xobj o;
	int r;

	if (xattr_disabled(fs, name))
		return -EOPNOTSUPP;
	if (!fs->upper)
		return -EROFS;
	g_autofree char *disk = uf_xattr_to_disk(fs->xattr_prefix, name);
	if (strlen(disk) > XATTR_NAME_MAX)
		return -ERANGE;
	name = disk;
	if (remove) {
		/* Removing what is not there must not copy anything up. */
		r = inode_xobj(fs, ino, &o, &loc);
		if (r < 0)
			return r;
		ssize_t n = uf_xget(&o, name, NULL, 0);
		xobj_done(fs, &loc);
		if (n < 0)
			return (int)n;
	}
	r = uf_copyup(fs, ino, UF_COPYUP_META);
	if (r < 0)
		return r;
	r = inode_xobj(fs, ino, &o, &loc);
	if (r < 0)
		return r;
	g_mutex_lock(&fs->xattr_lock);
	atomic_store(&ino->xattr_none, false);
	r = remove ? uf_xremove(&o, name) : uf_xset(&o, name, value, size, flags);
	g_mutex_unlock(&fs->xattr_lock);
	xobj_done(fs, &loc);
	return r;
}

static void run_xattr(struct uf_job *j)
{
	struct uf_fs *fs = uf_fs_from_req(j->req);

	fuse_reply_err(j->req, -set_or_remove(fs, uf_inode_from_id(fs, j->ino), j->name, j->value,
					      j->size, j->flags, j->value == NULL));
}

/* Set (@value != NULL) or remove an xattr, on the pool if a copy-up of file
 * data comes first or another copy-up of the object is under way. */
static void xattr_change(fuse_req_t req, fuse_ino_t id, const char *name, const char *value,
			 size_t size, int flags)
{
	struct uf_fs *fs = uf_fs_from_req(req);
	struct uf_inode *ino = uf_inode_from_id(fs, id);

	if (fs->metacopy || !uf_copyup_copies_data(fs, ino)) {
		int r = set_or_remove(fs, ino, name, value, size, flags, value == NULL);
		if (r != -EWOULDBLOCK) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	struct uf_job *j = uf_job_new(run_xattr, req);
	j->ino = id;
	j->name = g_strdup(name);
	j->value = value ? g_memdup2(value, size ? size : 1) : NULL;
	j->size = size;
	j->flags = flags;
	uf_job_submit(fs, j);
}

void uf_ll_setxattr(fuse_req_t req, fuse_ino_t id, const char *name, const char *value, size_t size,
		    int flags)
{
	/* An empty value is still a value: never NULL here. */
	xattr_change(req, id, name, value ? value : "", size, flags);
}

void uf_ll_removexattr(fuse_req_t req, fuse_ino_t id, const char *name)
{
	xattr_change(req, id, name, NULL, 0, 0);
}
