/* The table of FUSE low-level handlers; each lives with its concern. */
#include "unionfuse/ops.h"
#include "unionfuse/readdir.h"

const struct fuse_lowlevel_ops uf_ll_ops = {
	.init = uf_ll_init,
	.destroy = uf_ll_destroy,
	.statfs = uf_ll_statfs,

	.lookup = uf_ll_lookup,
	.forget = uf_ll_forget,
	.forget_multi = uf_ll_forget_multi,

	.getattr = uf_ll_getattr,
	.setattr = uf_ll_setattr,
	.readlink = uf_ll_readlink,
	.access = uf_ll_access,

	.mknod = uf_ll_mknod,
	.mkdir = uf_ll_mkdir,
	.symlink = uf_ll_symlink,
	.link = uf_ll_link,
	.unlink = uf_ll_unlink,
	.rmdir = uf_ll_rmdir,
	.rename = uf_ll_rename,

	.opendir = uf_ll_opendir,
	.readdir = uf_ll_readdir,
	.readdirplus = uf_ll_readdirplus,
	.releasedir = uf_ll_releasedir,
	.fsyncdir = uf_ll_fsyncdir,

	.open = uf_ll_open,
	.create = uf_ll_create,
	.read = uf_ll_read,
	.write_buf = uf_ll_write_buf,
	/* No .flush: the upper is local, close() reports nothing more, and
	 * without it the kernel stops sending one per close(). */
	.release = uf_ll_release,
	.fsync = uf_ll_fsync,
	.fallocate = uf_ll_fallocate,
	.lseek = uf_ll_lseek,
	.copy_file_range = uf_ll_copy_file_range,
#ifdef UF_HAVE_LL_TMPFILE
	.tmpfile = uf_ll_tmpfile,
#endif

	.getxattr = uf_ll_getxattr,
	.listxattr = uf_ll_listxattr,
	.setxattr = uf_ll_setxattr,
	.removexattr = uf_ll_removexattr,
};
