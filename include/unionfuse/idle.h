/* Watching the request stream (io.c) and unmounting an idle union
 * (-o idle_timeout, idle.c). docs/deployments.md defines "idle". */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* io.c: read and write /dev/fuse through our own calls, once mounted: the
 * time of each request read is noted (fs->last_request), and the first
 * reply that says ENOSPC is logged. Returns 0 or -errno. */
int uf_io_install(struct uf_fs *fs, struct fuse_session *se);

/* idle.c. Before fuse_daemonize() (which changes directory): note the
 * absolute mount point when c->idle_timeout is set. Returns 0 or -errno
 * with one line in *reterr_msg. */
int uf_idle_init(struct uf_fs *fs, const struct uf_config *c, char **reterr_msg);

/* After fuse_daemonize(): start the thread that unmounts the union once it
 * is idle. No-op without -o idle_timeout. Returns 0 or -errno. */
int uf_idle_start(struct uf_fs *fs);

/* Stop that thread and free what uf_idle_init() made. Safe without it. */
void uf_idle_stop(struct uf_fs *fs);
