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

/* Start the pool (none with -s: then jobs run at once). Returns 0 or -errno. */
int uf_worker_init(struct uf_fs *fs, bool single_thread);
void uf_worker_stop(struct uf_fs *fs);

/* A job for @req that will call @run. */
struct uf_job *uf_job_new(uf_job_fn run, fuse_req_t req);

/* Run @job on the pool, or now when there is none; it is freed after. */
void uf_job_submit(struct uf_fs *fs, struct uf_job *job);
