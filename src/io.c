/* Our read and writev on /dev/fuse (libfuse's custom io): what passes
 * through is the only place that sees every request and every reply, so it
 * is where idle.c learns when the last request came, and where the first
 * ENOSPC reply (a full upper, typically the tmpfs of -o tmpupper) gets its
 * one line in the log. Data replies spliced from a file go by splice_send.
 *
 * With a libfuse older than 3.18 it is also where FUSE_HANDLE_KILLPRIV_V2
 * is negotiated, which that libfuse neither offers nor passes on: without
 * it the kernel asks for security.capability before every write (a
 * GETXATTR round trip each, as many as the writes: half the time of apt's
 * small writes). The protocol is the kernel's and stable: the flag is bit
 * 28 of fuse_init_in/out.flags, and the only per-request part we need,
 * FUSE_WRITE_KILL_SUIDGID, is in fuse_write_in.write_flags. The rest of
 * what KILLPRIV_V2 hands over (truncate and chown) modes.c and attr.c do
 * already from the request alone. */
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

#include "unionfuse/io.h"
#include "unionfuse/util.h"

/* FUSE_WRITE_KILL_SUIDGID of the WRITE this thread read last. */
static _Thread_local bool write_kills_suidgid;

static void note_request(struct uf_fs *fs, const void *buf, size_t n)
{
	const struct fuse_in_header *in = buf;

	if (n < sizeof(*in))
		return;
	if (in->opcode == FUSE_WRITE && n >= sizeof(*in) + sizeof(struct fuse_write_in)) {
		const struct fuse_write_in *w = (const void *)(in + 1);
		write_kills_suidgid = (w->write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
	} else if (in->opcode == FUSE_INIT && n >= sizeof(*in) + 4 * sizeof(uint32_t)) {
		/* major, minor, max_readahead, flags: in every version */
		const uint32_t *init = (const void *)(in + 1);
		fs->init_unique = in->unique;
		fs->init_offered = init[0] == FUSE_KERNEL_VERSION ? init[3] : 0;
	}
}

/* Waiting for the next request awake (-o spin=US). On a VM, waking a
 * thread that sleeps on another CPU costs ~17 us each way (an IPI, the
 * idle vCPU's exit): a getxattr round trip took 40 us, 13 us with the loop
 * thread still running when the request came. A program working through
 * files asks again within microseconds of each answer, so after each
 * request the loop reads without blocking for up to spin_us before it
 * sleeps in poll(). Only while that pays: the score counts recent requests
 * that came within the window (+1) or not (-1), also measured while not
 * spinning, and the loop spins only while it is positive; an idle or
 * sparsely used mount sleeps at once. A spinning thread is runnable, so
 * on a CPU shared with other work a request would wait for its turn where
 * a sleeping one preempts on wakeup: each turn of the loop yields, and one
 * that took long (the CPU went to someone else) stops the spinning for a
 * while; busy CPUs do not idle, so their wakeups are cheap anyway. */
#define SPIN_SCORE_MAX 8
#define SPIN_PREEMPTED_US 20

static ssize_t read_request(struct uf_fs *fs, int fd, void *buf, size_t len)
{
	if (fs->spin_us <= 0)
		return read(fd, buf, len); /* the fd blocks */
	int64_t start = g_get_monotonic_time(), now = start;
	ssize_t n = read(fd, buf, len);
	while (n < 0 && errno == EAGAIN && fs->spin_score > 0 && now - start < fs->spin_us) {
		sched_yield();
		n = read(fd, buf, len);
		int64_t prev = now;
		now = g_get_monotonic_time();
		if (now - prev > SPIN_PREEMPTED_US)
			fs->spin_score = -SPIN_SCORE_MAX;
	}
	while (n < 0 && errno == EAGAIN) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0)
			return -1; /* EINTR: libfuse checks whether to exit */
		n = read(fd, buf, len);
	}
	int err = errno; /* libfuse reads it after a failed read */
	bool soon = g_get_monotonic_time() - start <= fs->spin_us;
	fs->spin_score = soon ? MIN(fs->spin_score + 1, SPIN_SCORE_MAX)
			      : MAX(fs->spin_score - 1, -SPIN_SCORE_MAX);
	errno = err;
	return n;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct uf_fs *fs = userdata;
	ssize_t n = read_request(fs, fd, buf, len);

	if (n > 0) {
		atomic_store_explicit(&fs->last_request, g_get_monotonic_time(),
				      memory_order_relaxed);
		note_request(fs, buf, (size_t)n);
	}
	return n;
}

bool uf_io_killpriv_v2_offered(const struct uf_fs *fs)
{
	return (fs->init_offered & FUSE_HANDLE_KILLPRIV_V2) != 0;
}

void uf_io_accept_killpriv_v2(struct uf_fs *fs)
{
	fs->init_add |= FUSE_HANDLE_KILLPRIV_V2;
}

bool uf_io_write_kills_suidgid(void)
{
	return write_kills_suidgid;
}

/* The INIT reply, with the flags libfuse could not set added. */
static ssize_t write_init_reply(struct uf_fs *fs, int fd, struct iovec *iov, int count)
{
	struct fuse_init_out out = { 0 };
	struct iovec copy[2];

	if (count != 2 || iov[1].iov_len > sizeof(out) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(out.flags)) {
		/* Not the reply we know: the kernel will not have the flags. */
		uf_log(LOG_WARNING, "unexpected FUSE INIT reply (%zu bytes): handle_killpriv_v2 off",
		       count > 1 ? iov[1].iov_len : 0);
		fs->killpriv_v2 = false;
		return writev(fd, iov, count);
	}
	memcpy(&out, iov[1].iov_base, iov[1].iov_len);
	out.flags |= fs->init_add;
	copy[0] = iov[0];
	copy[1] = (struct iovec){ .iov_base = &out, .iov_len = iov[1].iov_len };
	return writev(fd, copy, 2);
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
	struct uf_fs *fs = userdata;

	if (!h || iov[0].iov_len < sizeof(*h) || h->unique == 0)
		return writev(fd, iov, count);
	if (h->error == -ENOSPC)
		note_enospc(fs);
	if (h->unique == fs->init_unique && fs->init_add && h->error == 0) {
		ssize_t n = write_init_reply(fs, fd, iov, count);
		fs->init_add = 0;
		return n;
	}
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
	if (fs->spin_us > 0) {
		int fd = fuse_session_fd(se);
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			fs->spin_us = 0;
	}
	/* On the fd fuse_session_mount() made: libfuse keeps using it (and
	 * unmounts and closes it as before); only the calls are ours. */
#if FUSE_USE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	return fuse_session_custom_io(se, &io, sizeof(io), fuse_session_fd(se));
#else
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
#endif
}
