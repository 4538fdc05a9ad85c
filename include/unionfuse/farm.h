/* The sandbox farm (-o farm, docs/deployments.md): one daemon and one mount
 * serving one union per name. `unionfuse /srv/base:/srv/uppers/%n /sandbox`
 * shows at /sandbox/NAME the union of the lowers and /srv/uppers/NAME.
 *
 * Shared by all sandboxes: the lowers (opened, isolated and locked once, by
 * the farm's base union, a read-only union of the lowers that the session
 * sees as its userdata), the options, the worker pool and the session.
 * Each sandbox is a struct uf_fs of its own (upper, its flock, inode table,
 * origins, locks, counters) whose lowers are dups of the base's fds. */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* Does @c ask for a farm (an upper path with %n in it, not as %%n)? */
bool uf_farm_wanted(const struct uf_config *c);

/* Build the farm for @c: its base union in *ret (fs->farm set), to be used
 * as uf_fs_new()'s result is, with uf_farm_ops. Returns 0 or -errno with one
 * line in *reterr_msg. */
int uf_farm_new(const struct uf_config *c, struct uf_fs **ret, char **reterr_msg);

/* After uf_inval_start(base, se) and uf_worker_init(): start the thread that
 * drops idle sandboxes. No-op for a non-farm union. Returns 0 or -errno. */
int uf_farm_start(struct uf_fs *base);

/* Stop that thread, release and free every sandbox. Call after the workers
 * have stopped and before uf_fs_free(base). No-op for a non-farm union. */
void uf_farm_free(struct uf_fs *base);

/* uf_fs_new() of a sandbox (c->farm == 2): its upper, opened as any upper,
 * then the lowers of c->farm_base (dup'd fds). Returns 0 or -errno. */
int uf_farm_branches_open(const struct uf_config *c, struct uf_branch **ret, unsigned *ret_n,
			  char **reterr_msg);

extern const struct fuse_lowlevel_ops uf_farm_ops;
