/* A branch stack read offline, for the tools (diff, check): the branches of
 * "LOWER[:LOWER...]:UPPER" opened as directories, and what the lowers show
 * at a path, found the way a lookup finds it (whiteouts in both forms,
 * opaque dirs and redirects of the lowers, layer by layer). Nothing is
 * followed: every name is opened with O_NOFOLLOW from its branch's root.
 * Part of the layer library: no FUSE, no daemon state. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "unionfuse/layer/whiteout.h"

struct uf_stack {
	struct uf_layer_fmt fmt; /* the names in .prefix etc. are owned here */
	unsigned n_lowers;
	int *lower_fds;	    /* top-first (the spec lists them bottom first) */
	char **lower_paths; /* as given */
	int upper_fd;	    /* O_RDONLY | O_DIRECTORY */
	char *upper_path;
};

/* Open the @n branches @paths, bottom first as in "LOWER:...:UPPER": the
 * last is the upper, the others lowers (at least one). @userxattr selects
 * the user.overlay.* names, else trusted.overlay.*. Returns 0, or -errno
 * with one line in *reterr_msg. uf_stack_done() frees what was filled
 * either way. */
int uf_stack_open(char *const *paths, unsigned n, bool userxattr, struct uf_stack *s,
		  char **reterr_msg);
void uf_stack_done(struct uf_stack *s);

/* The object the lowers show at a union path. */
struct uf_stack_obj {
	int layer; /* index into lower_fds of the top object; -1: nothing there */
	int fd;	   /* O_PATH on it (-1 when nothing) */
	struct stat st;
};

/* What the lowers show at @path ("" for the root, else names joined by
 * '/', no leading '/'). An invalid redirect in a lower ends the search
 * (it fails a lookup there). Returns 0 and fills *ret (ret->layer -1 when
 * nothing is there), or -errno when a branch cannot be read. The caller
 * closes ret->fd. */
int uf_stack_lookup(const struct uf_stack *s, const char *path, struct uf_stack_obj *ret);
