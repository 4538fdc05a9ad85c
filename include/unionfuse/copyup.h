/* Copy-up: giving an object that lives only in a lower branch a copy in the
 * upper, built aside and published with one link/rename. */
#pragma once

#include "unionfuse/types.h"

enum {
	UF_COPYUP_NODATA = 1 << 0, /* the caller truncates to 0: copy no data */
	UF_COPYUP_META = 1 << 1,   /* metadata is enough (chmod...): data stays below */
};

/* Smaller files are copied whole even for a chmod: it costs next to nothing,
 * and a metadata-only copy is then always a file with holes, which is what
 * lookup checks before it reads the xattr (namei.c). */
#define UF_METACOPY_MIN (64 * 1024)

/* Make sure @ino (and every parent) has an upper object. Returns 0 when it
 * has one (also when another thread won the race), -EROFS on a read-only
 * union, -EWOULDBLOCK on the request loop's thread when another copy-up of
 * @ino is under way (hand the request to the pool: worker.h), or -errno; on
 * failure the upper holds nothing new. Takes the inodes' locks one at a
 * time, parents first. */
int uf_copyup(struct uf_fs *fs, struct uf_inode *ino, unsigned flags);

/* Would a copy-up of @ino copy file data (and so may take long)? */
bool uf_copyup_copies_data(const struct uf_fs *fs, struct uf_inode *ino);
