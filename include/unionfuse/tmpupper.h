/* -o tmpupper: an ephemeral upper branch (and workdir) that lives exactly as
 * long as the daemon. docs/deployments.md describes what is left after a
 * crash (nothing on the private tmpfs; the DIR/unionfuse-XXXXXX directory of
 * -o tmpupper=DIR, which the next tmpupper mount in DIR removes). */
#pragma once

#include "unionfuse/params.h"

/* Where the upper lives; filled by uf_tmpupper_setup(). */
struct uf_tmpupper {
	char *dir;    /* the fresh directory holding upper/ and work/, or NULL */
	bool mounted; /* dir is our tmpfs's mount point (not yet detached) */
	int lock_fd;  /* flock(LOCK_EX) on dir: tells a later run it is in use */
};

#define UF_TMPUPPER_INIT { .dir = NULL, .mounted = false, .lock_fd = -1 }

/* Make the ephemeral upper for @c (c->tmpupper set): a private tmpfs (root;
 * size c->tmpupper_size) or a fresh unionfuse-XXXXXX under c->tmpupper_dir,
 * each with upper/ and work/, the upper's root taking the top lower's mode
 * and owner. Puts the upper first in c->branches and sets c->workdir.
 * Returns 0, or -errno with one line in *reterr_msg (nothing left behind). */
int uf_tmpupper_setup(struct uf_config *c, struct uf_tmpupper *t, char **reterr_msg);

/* Once the branches are open: lazily unmount the private tmpfs and remove
 * its mount point. The daemon's fds keep the tmpfs alive; it goes with the
 * last of them, however the daemon ends. No-op for tmpupper=DIR. */
void uf_tmpupper_detach(struct uf_tmpupper *t);

/* At exit: remove everything uf_tmpupper_setup() made that is still there.
 * Safe on a zeroed/unused @t. */
void uf_tmpupper_cleanup(struct uf_tmpupper *t);

/* Remove the tree @name under @parent without following symlinks or leaving
 * its filesystem; directories without search permission are opened up
 * first. Returns 0 or the first -errno. */
int uf_rm_rf_at(int parent, const char *name);
