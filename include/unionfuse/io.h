/* Our read and writev on /dev/fuse (io.c). */
#pragma once

#include <stdbool.h>

#include "unionfuse/types.h"

/* Read and write /dev/fuse through our own calls, once mounted: the time of
 * each request read is noted (fs->last_request), the first reply that says
 * ENOSPC is logged, and with a libfuse older than 3.18 FUSE_HANDLE_KILLPRIV_V2
 * is negotiated here (uf_io_killpriv_v2_offered()). Returns 0 or -errno. */
int uf_io_install(struct uf_fs *fs, struct fuse_session *se);

/* Did the kernel offer FUSE_HANDLE_KILLPRIV_V2 in its INIT request? Only
 * known with a libfuse older than 3.18, whose fuse_conn_info cannot say it;
 * asked from the init callback, which runs after the INIT request was read. */
bool uf_io_killpriv_v2_offered(const struct uf_fs *fs);

/* Accept FUSE_HANDLE_KILLPRIV_V2 in the INIT reply that libfuse (< 3.18)
 * is about to send. */
void uf_io_accept_killpriv_v2(struct uf_fs *fs);

/* Did the WRITE request being handled on this thread carry
 * FUSE_WRITE_KILL_SUIDGID? For a libfuse older than 3.18, whose
 * fuse_file_info has no kill_suidgid: the request was read on this thread
 * (fuse_session_loop() reads and answers on one), just before. */
bool uf_io_write_kills_suidgid(void);
