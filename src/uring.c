/* FUSE over io_uring: the kernel hands requests to libfuse's ring threads
 * (one per CPU, each with its own queue of request buffers) through
 * io_uring instead of our read() of /dev/fuse. What that changes here:
 * - the handlers run on those threads, several at once, not on our one
 *   request loop. They must not wait for an inode lock there either (a
 *   copy-up holds one for minutes and would stall that CPU's queue), so
 *   worker.c then answers -EWOULDBLOCK on every thread but the pool's and
 *   the handlers hand such requests to the pool as before; replies from
 *   the pool go back through the ring (libfuse locks its queue).
 * - io.c no longer sees the requests: -o idle_timeout, which counts
 *   them, excludes it; the log line for the first ENOSPC reply is lost.
 * - libfuse 3.18 handles no interrupts over io_uring: a copy-up runs to
 *   its end when its caller is killed. */
#include <string.h>

#include "unionfuse/uring.h"
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

void uf_uring_setup(struct uf_fs *fs, struct uf_config *cfg)
{
	if (!cfg->io_uring)
		return;
#ifdef FUSE_CAP_OVER_IO_URING
	if (cfg->idle_timeout > 0) {
		uf_log(LOG_WARNING, "-o io_uring: off: -o idle_timeout counts the requests read "
				    "from /dev/fuse, which io_uring bypasses");
		return;
	}
	if (fs->farm) {
		uf_log(LOG_WARNING, "-o io_uring: off: not tested with a farm's many unions yet");
		return;
	}
	fuse_opt_add_arg(&cfg->fuse_args, "-oio_uring");
	fs->uring_want = true;
#else
	(void)fs;
	uf_log(LOG_WARNING, "-o io_uring: off: libfuse %s has no FUSE over io_uring (needs 3.18)",
	       fuse_pkgversion());
#endif
}

void uf_uring_init(struct uf_fs *fs, struct fuse_conn_info *conn)
{
#ifdef FUSE_CAP_OVER_IO_URING
	bool offered = conn->capable_ext & FUSE_CAP_OVER_IO_URING;

	if (!fs->uring_want) {
		fuse_unset_feature_flag(conn, FUSE_CAP_OVER_IO_URING);
		uf_debug("FUSE over io_uring: off%s", offered ? " (-o io_uring turns it on)" : "");
		return;
	}
	if (!offered) {
		uf_log(LOG_WARNING, "-o io_uring: off: the kernel does not offer it "
				    "(/sys/module/fuse/parameters/enable_uring is not 1)");
		return;
	}
	/* Before the first request can come in on a ring thread: libfuse
	 * starts them when it answers FUSE_INIT, after this. */
	uf_worker_threads_are_loops();
	uf_debug("FUSE over io_uring: on");
#else
	(void)fs, (void)conn;
	uf_debug("FUSE over io_uring: off: libfuse %s has none", fuse_pkgversion());
#endif
}
