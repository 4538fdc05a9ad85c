/* The pool of threads for the requests that may block for long. */
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

#define UF_WORKERS 16

static _Thread_local bool on_loop_thread;
static _Thread_local bool on_pool; /* running a job: may wait */
/* Requests also run on threads we did not start (libfuse's io_uring
 * threads, uring.c): every thread but the pool's is then a loop. */
static atomic_bool all_loops;
static _Thread_local fuse_req_t current_req; /* of the job a worker runs */

bool uf_worker_interrupted(void)
{
	return current_req && fuse_req_interrupted(current_req);
}

void uf_worker_mark_loop_thread(void)
{
	on_loop_thread = true;
}

void uf_worker_threads_are_loops(void)
{
	atomic_store(&all_loops, true);
}

bool uf_worker_on_loop_thread(void)
{
	return on_loop_thread ||
	       (!on_pool && atomic_load_explicit(&all_loops, memory_order_relaxed));
}

int uf_inode_trylock(struct uf_inode *ino)
{
	if (!uf_worker_on_loop_thread()) {
		g_mutex_lock(&ino->lock);
		return 0;
	}
	return g_mutex_trylock(&ino->lock) ? 0 : -EWOULDBLOCK;
}

static void job_free(struct uf_job *job)
{
	g_free(job->name);
	g_free(job->name2);
	g_free(job->value);
	g_free(job);
}

static void run_job(gpointer data, gpointer user_data)
{
	struct uf_job *job = data;
	struct uf_fs *fs = job->fs, *req_fs = uf_req_fs; /* run inline: keep the caller's */

	bool was_on_pool = on_pool;

	(void)user_data; /* a farm's sandboxes share the pool: the job says whose */
	current_req = job->req;
	uf_req_fs = fs->sandbox ? fs : NULL;
	on_pool = true;
	job->run(job);
	on_pool = was_on_pool;
	uf_req_fs = req_fs;
	current_req = NULL;
	job_free(job);
	atomic_fetch_sub(&fs->jobs, 1); /* idle.c */
}

int uf_worker_init(struct uf_fs *fs, bool single_thread)
{
	if (single_thread)
		return 0;
	fs->pool = g_thread_pool_new(run_job, fs, UF_WORKERS, FALSE, NULL);
	return fs->pool ? 0 : -EAGAIN;
}

void uf_worker_stop(struct uf_fs *fs)
{
	if (fs->pool)
		g_thread_pool_free(g_steal_pointer(&fs->pool), FALSE, TRUE);
}

struct uf_job *uf_job_new(uf_job_fn run, fuse_req_t req)
{
	struct uf_job *job = g_new0(struct uf_job, 1);

	job->run = run;
	job->req = req;
	return job;
}

void uf_job_submit(struct uf_fs *fs, struct uf_job *job)
{
	job->fs = fs;
	atomic_fetch_add(&fs->jobs, 1);
	if (fs->pool && g_thread_pool_push(fs->pool, job, NULL))
		return;
	run_job(job, fs);
}
