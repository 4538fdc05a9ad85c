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
 * uf_inode_locate()). Returns 0 or -errno. */
int uf_killpriv_inode(struct uf_fs *fs, fuse_req_t req, struct uf_inode *ino);

/* What a copy-up of the lower object @st may give its copy. Fails with
 * -EOVERFLOW when its owner or group has no id in our user namespace (as
 * the kernel's ovl_copy_up_one()). A regular file on a nosuid mount (@dirfd
 * is its lower parent directory) loses S_ISUID and S_ISGID in @st, and
 * *ret_drop_caps says that security.capability must not be copied: they
 * are inert there and would become live in the upper. Returns 0 or -errno. */
int uf_copyup_mode_for(const struct uf_fs *fs, int dirfd, struct stat *st, bool *ret_drop_caps);
