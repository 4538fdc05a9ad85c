/* Unmounting an idle union (-o idle_timeout, idle.c); io.c watches the
 * request stream for it. docs/deployments.md defines "idle". */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* idle.c. Before fuse_daemonize() (which changes directory): note the
 * absolute mount point when c->idle_timeout is set. Returns 0 or -errno
 * with one line in *reterr_msg. */
int uf_idle_init(struct uf_fs *fs, const struct uf_config *c, char **reterr_msg);

/* After fuse_daemonize(): start the thread that unmounts the union once it
 * is idle. No-op without -o idle_timeout. Returns 0 or -errno. */
int uf_idle_start(struct uf_fs *fs);

/* Stop that thread and free what uf_idle_init() made. Safe without it. */
void uf_idle_stop(struct uf_fs *fs);
