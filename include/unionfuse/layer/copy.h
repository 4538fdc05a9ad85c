/* Copying real objects between branches without FUSE (layer library): file
 * data with its holes, and whole objects with owner, mode, xattrs and times,
 * every copy fsync'd before it is returned. What `unionfuse merge` builds
 * under a temporary name before it publishes it with one rename. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Copy @size bytes of data from @src to @dst (both O_RDWR/O_RDONLY fds of
 * regular files): FICLONE when it works, else the data segments found with
 * SEEK_DATA/SEEK_HOLE, so holes stay holes; @dst ends up @size long.
 * @stop (may be NULL) is asked before each chunk of up to 16 MiB: when it
 * says so the copy ends with -EINTR (the daemon: the caller was
 * interrupted). Returns 0 or -errno. */
int uf_layer_copy_data(int src, int dst, off_t size, bool (*stop)(void));

/* Give @name of @dirfd (not followed) the owner and mode (not to a
 * symlink) of @st, owner first (chown clears setuid); or its atime and
 * mtime, which go last, after anything that changes the object. Return 0
 * or -errno. */
int uf_layer_copy_owner_mode(int dirfd, const char *name, const struct stat *st);
int uf_layer_copy_times(int dirfd, const char *name, const struct stat *st);

/* Copy non-directory @name of @sdir to the new name @dname in @ddir: a
 * regular file with its data (from @data_fd when >= 0, else its own), a
 * symlink, device, fifo, socket or whiteout; then owner, mode, xattrs (all
 * of them when @prefix is NULL, else all but the format's own under
 * @prefix), times; fsync'd. @dname must not exist. Returns 0 or -errno; on
 * error a half-made @dname is removed. */
int uf_layer_copy_node(int sdir, const char *name, int data_fd, int ddir, const char *dname,
		       const char *prefix);

/* Copy the tree at @name of @sdir, as it is in its branch (whiteouts, the
 * format's xattrs and all), to the new name @dname in @ddir; hard links
 * within it stay linked; every object fsync'd. @dname must not exist.
 * Returns 0 or -errno (then a partial copy may be left at @dname). */
int uf_layer_copy_tree(int sdir, const char *name, int ddir, const char *dname);

/* fsync the object @name of @dirfd (not followed; a symlink or a device is
 * synced with its directory). Returns 0 or -errno. */
int uf_layer_fsync_at(int dirfd, const char *name);
