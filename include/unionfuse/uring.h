/* FUSE over io_uring (-o io_uring; libfuse 3.18, a kernel with
 * /sys/module/fuse/parameters/enable_uring set). docs/design.md, "io_uring",
 * says what it changes; this file decides whether it is used. */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* Before fuse_session_new(): for -o io_uring, ask libfuse for its ring
 * (its session option) when it has one and nothing we use excludes it.
 * Sets fs->uring_want. */
void uf_uring_setup(struct uf_fs *fs, struct uf_config *cfg);

/* At FUSE_INIT: keep the ring only when we asked for it (libfuse also
 * takes it from FUSE_URING_ENABLE in the environment), and tell the
 * worker pool that requests now run on libfuse's ring threads. */
void uf_uring_init(struct uf_fs *fs, struct fuse_conn_info *conn);
