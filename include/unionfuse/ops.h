/* Every FUSE low-level handler, grouped by the file that implements it. */
#pragma once

#include "unionfuse/types.h"

/* super.c */
void uf_ll_init(void *userdata, struct fuse_conn_info *conn);
void uf_ll_destroy(void *userdata);
void uf_ll_statfs(fuse_req_t req, fuse_ino_t ino);

/* namei.c */
void uf_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void uf_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void uf_ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);

/* attr.c */
void uf_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void uf_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void uf_ll_readlink(fuse_req_t req, fuse_ino_t ino);
void uf_ll_access(fuse_req_t req, fuse_ino_t ino, int mask);

/* dir.c */
void uf_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void uf_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void uf_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void uf_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void uf_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void uf_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void uf_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);

/* tmpfile.c */
#ifdef UF_HAVE_LL_TMPFILE
void uf_ll_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi);
#endif

/* file.c */
void uf_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void uf_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void uf_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void uf_ll_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		     struct fuse_file_info *fi);
void uf_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void uf_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void uf_ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi);
void uf_ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void uf_ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			   struct fuse_file_info *fi_out, size_t len, int flags);

/* xattr.c */
void uf_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void uf_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void uf_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void uf_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

extern const struct fuse_lowlevel_ops uf_ll_ops;
