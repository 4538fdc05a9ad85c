/* The kernel's rules for the setuid and setgid bits and file capabilities,
 * where the FUSE kernel side leaves them to the daemon (docs/security.md,
 * "Mode rules"): killing them on truncate and write by a caller without
 * CAP_FSETID, and what a copy-up may give its copy. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "unionfuse/types.h"

/* Note once which ids this daemon's user namespace cannot map (they stat as
 * the overflow ids). Never fails: without /proc every id counts as mapped. */
void uf_modes_init(struct uf_fs *fs);

/* Does the caller of @req have CAP_FSETID, as the kernel's capable() sees it
 * (in the initial user namespace)? Reads /proc only for uid 0. */
bool uf_caller_fsetid(const struct uf_fs *fs, fuse_req_t req);

/* The mode regular file @st keeps when the caller of @req truncates it or
 * writes to it (the kernel's setattr_should_drop_suidgid()): S_ISUID goes,
 * S_ISGID too when group-executable or when the caller is not in the file's
 * group, unless the caller has CAP_FSETID. Returns st->st_mode unchanged
 * when nothing goes. */
mode_t uf_killpriv_mode(const struct uf_fs *fs, fuse_req_t req, const struct stat *st);

/* Apply uf_killpriv_mode() to the open file @fd. Returns 0 or -errno. */
int uf_killpriv_fd(const struct uf_fs *fs, fuse_req_t req, int fd);

/* Apply uf_killpriv_mode() to the upper object of non-dir @ino (found by
 * uf_inode_locate()). @decided: the kernel has already decided that the
 * bits go (under KILLPRIV_V2 a setattr of nothing is its ATTR_KILL_SUID of
 * a write or of a chown(-1, -1), which drops S_ISUID even for root), so
 * the caller's CAP_FSETID keeps only a S_ISGID without group execute.
 * Returns 0 or -errno. */
int uf_killpriv_inode(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino, bool decided);

/* Would the setattr of nothing that KILLPRIV_V2 makes of a chown(-1, -1)
 * be refused (EPERM) for this caller on @st, the union's view of @ino (a
 * setuid/setgid file of someone else, open by nobody)? Asked before
 * anything is copied up or changed. */
bool uf_killpriv_refused(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino,
			 const struct stat *st);

/* Ask for FUSE_HANDLE_KILLPRIV_V2 at init (libfuse >= 3.18, -o killpriv=on)
 * and note in fs->killpriv_v2 whether we have it. */
void uf_killpriv_init(struct uf_fs *fs, struct fuse_conn_info *conn);

/* Before a write of the caller of @req reaches the open file @fd of @ino:
 * under KILLPRIV_V2, what the kernel left to us. Drops setuid/setgid when
 * the write carries FUSE_WRITE_KILL_SUIDGID (by uf_killpriv_mode()), and
 * security.capability unless @ino is known to have no xattrs. Nothing
 * without KILLPRIV_V2. Returns 0 or -errno. */
int uf_killpriv_write(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino, int fd,
		      const struct fuse_file_info *fi);

/* What a copy-up of the lower object @st may give its copy. Fails with
 * -EOVERFLOW when its owner or group has no id in our user namespace (as
 * the kernel's ovl_copy_up_one()). A regular file on a nosuid mount (@dirfd
 * is its lower parent directory) loses S_ISUID and S_ISGID in @st, and
 * *ret_drop_caps says that security.capability must not be copied: they
 * are inert there and would become live in the upper. Returns 0 or -errno. */
int uf_copyup_mode_for(const struct uf_fs *fs, int dirfd, struct stat *st, bool *ret_drop_caps);
