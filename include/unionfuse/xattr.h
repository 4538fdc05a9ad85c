/* Extended attributes of real objects, and the union's xattr handlers. The
 * primitives are the layer library's (unionfuse/layer/xattr.h). */
#pragma once

#include "unionfuse/layer/xattr.h"
#include "unionfuse/types.h"

/* Copy every xattr but the format's private ones from @src to @dst.
 * Security labels and ACLs the destination refuses are skipped.
 * Returns 0 or -errno. */
static inline int uf_copy_xattrs(const struct uf_fs *fs, const struct uf_xobj *src,
				 const struct uf_xobj *dst)
{
	return uf_layer_copy_xattrs(fs->xattr_prefix, src, dst);
}
