/* The branch stack: opening and checking the directories a union is made of. */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* Open every branch of @c, top-first. Checks: exists, is a directory,
 * readable (the upper also writable), not given twice, not nested in
 * another. Returns 0, or -errno with one line in *reterr_msg. */
int uf_branches_open(const struct uf_config *c, struct uf_branch **ret, unsigned *ret_n,
		     char **reterr_msg);

/* The mount point exists, is a directory and is inside no branch. */
int uf_check_mountpoint(const char *mnt, const struct uf_branch *b, unsigned n, char **reterr_msg);

/* Open the work directory: writable, on the upper's filesystem, outside the
 * branches. Gives its resolved path too. */
int uf_open_workdir(const char *workdir, const struct uf_branch *b, unsigned n, int *ret_fd,
		    char **ret_path, char **reterr_msg);

/* Move the branches' fds (and the work dir's, @work_fd, which may be -1) to
 * private clones of their mounts that hold none of the mounts below them
 * (branch.c says why). Best effort: without the privilege for it, they stay
 * as they are. */
void uf_branches_isolate(struct uf_branch *b, unsigned n, int *work_fd, const char *work_path);

void uf_branches_free(struct uf_branch *b, unsigned n);
