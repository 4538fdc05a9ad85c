/* Merged directory listings and the open-directory handles that serve them. */
#pragma once

#include "unionfuse/inode.h"
#include "unionfuse/types.h"
#include "unionfuse/util.h"

struct uf_dirent {
	const char *name;   /* in the listing's string chunk */
	ino_t ino;	    /* the st_ino that stat() of this name returns */
	unsigned char type; /* DT_* */
};

struct uf_listing {
	GArray *entries; /* struct uf_dirent; "." and ".." first */
	GStringChunk *names;
};

/* Merge the real directories @L (top-first) into one listing: every visible
 * name once, whiteouts and ".wh." names applied and hidden, "." and ".."
 * first with @self_ino and @parent_ino. Returns 0 and *ret, or -errno. */
int uf_readdir_merge(struct uf_fs *fs, const struct uf_layers *L, ino_t self_ino, ino_t parent_ino,
		     struct uf_listing **ret);

/* Is the merged directory @dir empty but for "." and ".."? 1, 0 or -errno. */
int uf_dir_is_empty(struct uf_fs *fs, struct uf_inode *dir);

void uf_listing_free(struct uf_listing *l);
UF_DEFINE_FREEP(uf_listing, uf_listing_free)

/* FUSE handlers (readdir.c). */
void uf_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void uf_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void uf_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void uf_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void uf_ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
