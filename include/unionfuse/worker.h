/* The worker pool. The FUSE loop itself is one thread: most requests take a
 * few microseconds, and on a small machine handing each to another thread
 * costs more than the request (a wakeup on another CPU). Requests that may
 * block for long (a copy-up of file data, fsync) are handed to the pool so
 * that they never stall the others. */
#pragma once

#include <sys/stat.h>

#include "unionfuse/types.h"

struct uf_job;
typedef void (*uf_job_fn)(struct uf_job *job);

/* The arguments of a deferred request: a copy, since the loop reuses its
 * buffer once the handler returns. */
struct uf_job {
	uf_job_fn run;
	fuse_req_t req;
	struct uf_fs *fs; /* the union it is for (uf_job_submit()) */
	fuse_ino_t ino, ino2;
	struct fuse_file_info fi;
	uint64_t fh2; /* a second file handle (copy_file_range) */
	bool has_fi;
	struct stat attr;
	int to_set, flags, mode;
	off_t off, off2, len;
	char *name, *name2, *value; /* g_malloc'd */
	size_t size;
};

/* The request loop's thread says so once, before it loops. On that thread,
 * nothing may wait for a lock that a long job holds (a copy-up of file data
 * holds its inode's lock for minutes): uf_inode_trylock() answers
 * -EWOULDBLOCK there instead, and the handler hands the request to the pool. */
void uf_worker_mark_loop_thread(void);
bool uf_worker_on_loop_thread(void);

/* Requests run on threads we did not start (FUSE over io_uring): from now
 * on every thread but the pool's counts as the loop's. */
void uf_worker_threads_are_loops(void);

/* Take @ino's lock; on the loop thread only if it is free (-EWOULDBLOCK
 * otherwise). Returns 0 with the lock held, or -EWOULDBLOCK. */
int uf_inode_trylock(struct uf_inode *ino);

/* Has the request that the calling worker thread is running been
 * interrupted (the caller got a signal)? False on other threads. */
bool uf_worker_interrupted(void);

/* Start the pool (none with -s: then jobs run at once). Returns 0 or -errno. */
int uf_worker_init(struct uf_fs *fs, bool single_thread);
void uf_worker_stop(struct uf_fs *fs);

/* A job for @req that will call @run. */
struct uf_job *uf_job_new(uf_job_fn run, fuse_req_t req);

/* Run @job on the pool, or now when there is none; it is freed after. */
void uf_job_submit(struct uf_fs *fs, struct uf_job *job);
