/* Mode rules the daemon applies itself: the kernel's killing of setuid and
 * setgid on truncate and write where the FUSE kernel side does not do it
 * (open with O_TRUNC under atomic_o_trunc; setgid without group execute),
 * and what a copy-up may give its copy. Creating objects with these bits is
 * dir.c's. docs/security.md, "Mode rules", has the whole list. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "unionfuse/inode.h"
#include "unionfuse/io.h"
#include "unionfuse/modes.h"
#include "unionfuse/util.h"

#define UF_CAP_FSETID 4 /* linux/capability.h */

/* Is @id inside one of the ranges of the id map @path? -1: no map. */
static int id_mapped(const char *path, uint32_t id, bool *ret_identity)
{
	g_autofree char *map = NULL;

	*ret_identity = false;
	if (!g_file_get_contents(path, &map, NULL, NULL))
		return -1;
	bool in = false;
	for (char *line = map, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		uint32_t inside, outside, count;
		nl = strchr(line, '\n');
		if (sscanf(line, "%" SCNu32 " %" SCNu32 " %" SCNu32, &inside, &outside, &count) !=
		    3)
			continue;
		if (inside == 0 && outside == 0 && count == UINT32_MAX)
			*ret_identity = true;
		if (id >= inside && id - inside < count)
			in = true;
	}
	return in;
}

static uint32_t read_overflow(const char *path)
{
	g_autofree char *s = NULL;

	if (!g_file_get_contents(path, &s, NULL, NULL))
		return 65534;
	return (uint32_t)g_ascii_strtoull(s, NULL, 10);
}

void uf_modes_init(struct uf_fs *fs)
{
	uint32_t ou = read_overflow("/proc/sys/kernel/overflowuid");
	uint32_t og = read_overflow("/proc/sys/kernel/overflowgid");
	bool uid_identity, gid_identity;

	/* An id our namespace cannot map stats as the overflow id. When that
	 * id is itself mapped a real owner looks the same: we cannot tell
	 * them apart and let it be (it is no privilege either). */
	int ru = id_mapped("/proc/self/uid_map", ou, &uid_identity);
	int rg = id_mapped("/proc/self/gid_map", og, &gid_identity);
	fs->unmapped_uid = ru == 0 ? ou : (uid_t)-1;
	fs->unmapped_gid = rg == 0 ? og : (gid_t)-1;
	/* No maps to read (no /proc): take it for the initial namespace. */
	fs->init_userns = (ru < 0 || uid_identity) && (rg < 0 || gid_identity);
}

/* Bit @cap of the CapEff line of task @pid, or -1 when unknown. */
static int task_has_cap(pid_t pid, int cap)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/task/%d/status", (int)pid, (int)pid);
	g_autofree char *status = NULL;

	if (pid <= 0 || !g_file_get_contents(path, &status, NULL, NULL))
		return -1;
	const char *p = strstr(status, "\nCapEff:");
	if (!p)
		return -1;
	uint64_t eff = g_ascii_strtoull(p + strlen("\nCapEff:"), NULL, 16);
	return (eff >> cap) & 1;
}

bool uf_caller_fsetid(const struct uf_fs *fs, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	/* capable() asks the initial user namespace: a root of another one
	 * never has it. Setting a non-zero fsuid drops CAP_FSETID, so the
	 * uid tells most; a root that dropped it shows in /proc. */
	if (ctx->uid != 0 || !fs->init_userns)
		return false;
	return task_has_cap(ctx->pid, UF_CAP_FSETID) != 0;
}

/* Is the caller of @req in group @gid (its fsgid or a supplementary
 * group), as the kernel's in_group_p()? */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t small[32];
	g_autofree gid_t *big = NULL;
	gid_t *list = small;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	int n = fuse_req_getgroups(req, G_N_ELEMENTS(small), small);
	if (n > (int)G_N_ELEMENTS(small)) {
		list = big = g_new(gid_t, n);
		n = MIN(n, fuse_req_getgroups(req, n, big));
	}
	for (int i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

static mode_t killpriv_mode(const struct uf_fs *fs, fuse_req_t req, const struct stat *st,
			    bool decided)
{
	mode_t kill = 0;

	if (!S_ISREG(st->st_mode) || !(st->st_mode & (S_ISUID | S_ISGID)))
		return st->st_mode;
	kill = st->st_mode & S_ISUID;
	/* The kernel's setattr_should_drop_sgid(). Without group execute
	 * S_ISGID marks mandatory locking, not a privilege, but the kernel
	 * drops it for a caller outside the group all the same (FUSE's own
	 * recomputation in fuse_setattr() keeps it: that one is ours). */
	if ((st->st_mode & S_ISGID) &&
	    ((st->st_mode & S_IXGRP) || !caller_in_group(req, st->st_gid)))
		kill |= S_ISGID;
	if (!kill)
		return st->st_mode;
	if (decided) {
		/* S_ISUID goes whoever asks (a chown by root too); S_ISGID
		 * without group execute stays for CAP_FSETID, as the kernel's
		 * in_group_or_capable(). */
		if ((kill & S_ISGID) && !(st->st_mode & S_IXGRP) && uf_caller_fsetid(fs, req))
			kill &= ~S_ISGID;
		return st->st_mode & ~kill;
	}
	if (uf_caller_fsetid(fs, req))
		return st->st_mode;
	return st->st_mode & ~kill;
}

mode_t uf_killpriv_mode(const struct uf_fs *fs, fuse_req_t req, const struct stat *st)
{
	return killpriv_mode(fs, req, st, false);
}

int uf_killpriv_fd(const struct uf_fs *fs, fuse_req_t req, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	mode_t mode = uf_killpriv_mode(fs, req, &st);
	if (mode == st.st_mode)
		return 0;
	return uf_neg_errno(fchmod(fd, mode & 07777));
}

/* A setattr of nothing under KILLPRIV_V2 from the kernel's chown(-1, -1)
 * by someone else than the owner: the kernel's own mode change would be
 * refused (EPERM). Before a write the caller has the file open: then it
 * could drop the bits by writing, so only an inode open by nobody counts. */
bool uf_killpriv_refused(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino,
			 const struct stat *st)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	/* chown() drops the bits of any non-directory, a fifo's too. */
	struct stat reg = *st;
	reg.st_mode = (st->st_mode & ~S_IFMT) | S_IFREG;

	if (!fs->killpriv_v2 || uid == st->st_uid || uid == 0 ||
	    killpriv_mode(fs, req, &reg, true) == reg.st_mode)
		return false;
	g_mutex_lock(&fs->inodes_lock);
	bool open = ino->nopen > 0;
	g_mutex_unlock(&fs->inodes_lock);
	return !open;
}

int uf_killpriv_inode(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino, bool decided)
{
	struct uf_located loc;
	struct stat st;

	if (!S_ISREG(ino->type))
		return 0;
	int r = uf_inode_locate(fs, ino, UF_TOP, &loc);
	if (r < 0)
		return r;
	r = uf_neg_errno(fstat(loc.fd, &st));
	if (r == 0) {
		/* The EPERM of a chown(-1, -1) was decided before anything
		 * changed (uf_killpriv_refused(), attr.c). */
		mode_t mode = killpriv_mode(fs, req, &st, decided);
		if (mode != st.st_mode)
			r = uf_loc_chmod(&loc, mode & 07777);
	}
	uf_located_done(&loc);
	return r;
}

void uf_killpriv_init(struct uf_fs *fs, struct fuse_conn_info *conn)
{
	/* The kernel then marks the superblock SB_NOSEC: once a write found
	 * nothing to kill, the inode is S_NOSEC and the next writes skip the
	 * GETXATTR of security.capability (one round trip each) until its
	 * attributes change. What it no longer does itself, setuid/setgid on
	 * write, truncate and chown, comes to us as flags (docs/security.md). */
#ifdef FUSE_CAP_HANDLE_KILLPRIV_V2
	bool offered = conn->capable & FUSE_CAP_HANDLE_KILLPRIV_V2;
	if (fs->killpriv_want && offered)
		conn->want |= FUSE_CAP_HANDLE_KILLPRIV_V2;
#else
	/* libfuse < 3.18 knows no such flag: io.c reads and answers it. */
	(void)conn;
	bool offered = uf_io_killpriv_v2_offered(fs);
	if (fs->killpriv_want && offered)
		uf_io_accept_killpriv_v2(fs);
#endif
	fs->killpriv_v2 = fs->killpriv_want && offered;
	const char *state = fs->killpriv_v2	? "on"
			    : fs->killpriv_want ? "off: the kernel does not offer it"
						: "off: -o killpriv=off";
	uf_debug("handle_killpriv_v2: %s", state);
}

int uf_killpriv_write(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino, int fd,
		      const struct fuse_file_info *fi)
{
	if (!fs->killpriv_v2)
		return 0;
#ifdef FUSE_CAP_HANDLE_KILLPRIV_V2
	bool kill = fi->kill_suidgid;
#else
	(void)fi;
	bool kill = uf_io_write_kills_suidgid();
#endif
	/* Set for a writer without CAP_FSETID whenever the kernel's cached
	 * mode says there is something to kill; the real mode decides. */
	if (kill) {
		int r = uf_killpriv_fd(fs, req, fd);
		if (r < 0)
			return r;
	}
	/* A write drops file capabilities whoever writes (the kernel's
	 * cap_inode_killpriv()). The kernel still asks for that itself until
	 * the inode is S_NOSEC, which its cached attributes decide: this
	 * covers a capability set in the upper behind its back. Free for
	 * files known to have no xattrs. */
	if (S_ISREG(ino->type) && !atomic_load_explicit(&ino->xattr_none, memory_order_relaxed) &&
	    fremovexattr(fd, "security.capability") < 0 && errno != ENODATA &&
	    errno != EOPNOTSUPP && errno != EPERM)
		return -errno;
	return 0;
}

int uf_copyup_mode_for(const struct uf_fs *fs, int dirfd, struct stat *st, bool *ret_drop_caps)
{
	struct statvfs sv;

	*ret_drop_caps = false;
	if (st->st_uid == fs->unmapped_uid || st->st_gid == fs->unmapped_gid)
		return -EOVERFLOW;
	if (!S_ISREG(st->st_mode))
		return 0; /* setgid on a dir is inheritance, no privilege */
	if (fstatvfs(dirfd, &sv) < 0)
		return -errno;
	if (sv.f_flag & ST_NOSUID) {
		st->st_mode &= ~(S_ISUID | S_ISGID);
		*ret_drop_caps = true;
	}
	return 0;
}
