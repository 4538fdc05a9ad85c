/* FUSE passthrough (libfuse >= 3.16 headers, kernel >= 6.9, root): the
 * kernel reads and writes an open regular file's real object itself, with no
 * round trip through the daemon. docs/design.md, "Passthrough", has the
 * rules; this is the only file that knows them. */
#pragma once

#include "unionfuse/file.h"
#include "unionfuse/types.h"

/* At FUSE_INIT: ask for passthrough when the kernel offers it, -o
 * passthrough=off was not given, and the writeback cache (which excludes
 * it) was not asked for. Sets fs->pt. */
void uf_passthrough_init(struct uf_fs *fs, struct fuse_conn_info *conn);

/* Decide how open file @f of regular file @ino (real fd @fd, opened with
 * @flags) is served: sets @fi->backing_id (and clears keep_cache) for
 * passthrough, or leaves @fi for the daemon's read/write. Returns 0, or
 * -ESTALE when the kernel inode is already backed by another real file
 * (its lower copy, open by readers from before a copy-up): @ino is then
 * retired and the caller answers ESTALE, which makes the kernel look the
 * name up again (a new inode) and retry the open once. */
int uf_passthrough_open(struct uf_fs *fs, struct uf_inode *ino, int fd, int flags,
			struct fuse_file_info *fi, struct uf_file *f);

/* Open file @f is closed (or its open was never answered). */
void uf_passthrough_release(struct uf_fs *fs, struct uf_inode *ino, struct uf_file *f);

/* The state for -o passthrough=auto (the default) or, with @all, =on; NULL
 * when this libfuse has none. */
struct uf_passthrough *uf_passthrough_new(bool all);
/* Is passthrough in use (granted at init)? */
bool uf_passthrough_active(const struct uf_fs *fs);
/* Free fs->pt at teardown. */
void uf_passthrough_free(struct uf_fs *fs);
