/* Temporary names in the upper branch: copies are built aside under one and
 * published with a single rename or link, and removed objects are moved
 * aside under one (leaving a whiteout in the same step) before they are
 * emptied. So an error or a crash at any point leaves the old state or the
 * new one. The names start with ".wh..wh.", which the union never shows;
 * those of a daemon that died are reaped. Part of the layer library; the
 * daemon's wrappers are in unionfuse/temp.h. */
#pragma once

#include <stdbool.h>

#include "unionfuse/layer/whiteout.h"

#define UF_TMP_PREFIX ".wh..wh.uf-tmp."
#define UF_TMP_NAME_MAX 64

/* A fresh temporary name of this daemon's. */
void uf_tmp_name(char buf[static UF_TMP_NAME_MAX]);

/* Remove @name from @dirfd, and everything below it when it is a directory;
 * no symlink is followed. Returns 0 or the first -errno. */
int uf_remove_tree(int dirfd, const char *name);

/* Take upper entry @name of @dirfd out of the union in one atomic step:
 * moved to a temporary name, leaving a whiteout in its place when
 * @whiteout, then removed (a directory with what is left in it). When the
 * step fails nothing changed. Returns 0 or -errno. */
int uf_remove_aside(int dirfd, const char *name, bool whiteout);

/* Make upper dir @name of @dirfd, empty in the union but holding whiteouts,
 * really empty (so that a rename may replace it): swap it in one step with a
 * new empty opaque dir of the same owner and mode, then remove the old one.
 * The union shows an empty dir there before, after and in between. */
int uf_layer_dir_replace_empty(const struct uf_layer_fmt *f, int dirfd, const char *name);

/* Remove @name of @dirfd if it is a temporary of a daemon that died. */
void uf_tmp_reap(int dirfd, const char *name);

/* Remove what dead daemons left in directory @workfd (a work dir). */
void uf_tmp_reap_dir(int workfd);
