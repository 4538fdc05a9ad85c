/* Invalidations sent from a thread of their own (inval.h says why). */
#include <string.h>

#include "unionfuse/inode.h"
#include "unionfuse/inval.h"
#include "unionfuse/util.h"

struct inval {
	struct uf_inode *parent; /* holds a ref */
	char *name;
};

static void send_inval(gpointer data, gpointer user_data)
{
	struct uf_fs *fs = user_data;
	struct inval *iv = data;

	fuse_lowlevel_notify_inval_entry(fs->se, uf_inode_id(fs, iv->parent), iv->name,
					 strlen(iv->name));
	uf_inode_unref(fs, iv->parent);
	g_free(iv->name);
	g_free(iv);
}

int uf_inval_start(struct uf_fs *fs, struct fuse_session *se)
{
	fs->se = se;
	fs->inval_pool = g_thread_pool_new(send_inval, fs, 1, FALSE, NULL);
	return fs->inval_pool ? 0 : -EAGAIN;
}

void uf_inval_stop(struct uf_fs *fs)
{
	if (fs->inval_pool)
		g_thread_pool_free(g_steal_pointer(&fs->inval_pool), FALSE, TRUE);
}

void uf_inode_invalidate_name(struct uf_fs *fs, struct uf_inode *ino)
{
	struct inval *iv = g_new0(struct inval, 1);

	if (!fs->inval_pool || uf_inode_get_parent(fs, ino, &iv->parent, &iv->name) < 0) {
		g_free(iv);
		return;
	}
	g_thread_pool_push(fs->inval_pool, iv, NULL);
}

void uf_inval_all(struct uf_fs *fs)
{
#if FUSE_USE_VERSION >= 318
	/* One message: every dentry cached before it is revalidated. */
	if (fs->se && fuse_lowlevel_notify_increment_epoch(fs->se) == 0) {
		uf_log(LOG_INFO, "the kernel's cache of the union dropped at once (FUSE epoch)");
		return;
	}
#endif
	g_autoptr(GPtrArray) all = g_ptr_array_new();
	GHashTableIter it;
	gpointer key;

	/* Refs taken under the lock: an inode may be forgotten meanwhile. */
	g_mutex_lock(&fs->inodes_lock);
	g_hash_table_iter_init(&it, fs->inodes);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct uf_inode *ino = key;
		ino->refs++;
		g_ptr_array_add(all, ino);
	}
	g_mutex_unlock(&fs->inodes_lock);
	for (guint i = 0; i < all->len; i++) {
		uf_inode_invalidate_name(fs, all->pdata[i]);
		uf_inode_unref(fs, all->pdata[i]);
	}
}
