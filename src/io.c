/* Our read and writev on /dev/fuse (libfuse's custom io): what passes
 * through is the only place that sees every request and every reply, so it
 * is where idle.c learns when the last request came, and where the first
 * ENOSPC reply (a full upper, typically the tmpfs of -o tmpupper) gets its
 * one line in the log. Data replies spliced from a file go by splice_send. */
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/uio.h>

#include "unionfuse/idle.h"
#include "unionfuse/util.h"

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct uf_fs *fs = userdata;
	ssize_t n = read(fd, buf, len);

	if (n > 0)
		atomic_store_explicit(&fs->last_request, g_get_monotonic_time(),
				      memory_order_relaxed);
	return n;
}

static void note_enospc(struct uf_fs *fs)
{
	if (atomic_exchange(&fs->enospc_logged, true))
		return;
	if (fs->tmpupper)
		uf_log(LOG_WARNING, "the -o tmpupper upper is full: writes fail with ENOSPC "
				    "(-o tmpupper_size= sets its size)");
	else if (fs->upper)
		uf_log(LOG_WARNING, "upper branch '%s' is full: writes fail with ENOSPC",
		       fs->upper->path);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *h = count > 0 ? iov[0].iov_base : NULL;

	/* A reply (unique != 0; notifications have 0) with -ENOSPC. */
	if (h && iov[0].iov_len >= sizeof(*h) && h->unique != 0 && h->error == -ENOSPC)
		note_enospc(userdata);
	return writev(fd, iov, count);
}

static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			      unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int uf_io_install(struct uf_fs *fs, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
		.splice_send = io_splice_send,
	};

	atomic_store(&fs->last_request, g_get_monotonic_time());
	/* On the fd fuse_session_mount() made: libfuse keeps using it (and
	 * unmounts and closes it as before); only the calls are ours. */
#if FUSE_USE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	return fuse_session_custom_io(se, &io, sizeof(io), fuse_session_fd(se));
#else
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
#endif
}
