/* Open files: a handle holds a real fd; reads switch to the upper copy once
 * the file has been copied up, so no reader sees stale lower data. */
#pragma once

#include <stdatomic.h>

#include "unionfuse/types.h"

struct uf_file {
	GMutex lock;
	_Atomic int fd;
	atomic_bool lower; /* fd is the lower object's (cleared under ->lock) */
	int old_fd;	   /* ->lock: the lower fd after a switch, closed at release */
	uint8_t pt;	   /* passthrough.c: how the kernel serves it; immutable */
};

/* Make a handle for real fd @fd (consumed). The mount keeps track of its
 * handles: those still open when it ends are freed then (uf_files_free()). */
struct uf_file *uf_file_new(struct uf_fs *fs, int fd, bool lower);

/* Close and free handle @f (at release). */
void uf_file_free(struct uf_fs *fs, struct uf_file *f);

/* Free every handle still open (at teardown: the kernel sends no release
 * for files open when the mount goes away). */
void uf_files_free(struct uf_fs *fs);

/* Reply to an entry-making request with @ino's attributes. */
void uf_reply_entry(fuse_req_t req, struct uf_fs *fs, struct uf_inode *ino, const struct stat *st);
