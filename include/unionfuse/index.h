/* overlay.origin on copies and the inode index (-o index=on), in the kernel
 * overlayfs's format (docs/format.md "Origins and the index"; the values are
 * lib/layer/origin.c's). */
#pragma once

#include "unionfuse/inode.h"
#include "unionfuse/layer/origin.h"
#include "unionfuse/params.h"

/* At mount: the branches' uuids, the xattr names, and with index=on its
 * checks (a workdir, trusted xattrs, file handles), WORKDIR/index and the
 * upper root's origin, verified or set as the kernel does. Returns 0 or
 * -errno with a message. */
int uf_index_init(struct uf_fs *fs, const struct uf_config *c, char **reterr_msg);
void uf_index_free(struct uf_fs *fs);

/* The origin value of lower object @fd (O_PATH is fine) of branch @branch.
 * Returns its length, or 0 when none can be made (no file handles). */
int uf_origin_get(struct uf_fs *fs, int fd, unsigned branch, uint8_t ret[static UF_ORIGIN_MAX]);

/* Mark upper directory @updir "impure", as the kernel's ovl_set_impure():
 * it holds copies with an origin, whose d_ino readdir then takes from the
 * origin (best effort: without it d_ino is the copy's own). */
void uf_set_impure(struct uf_fs *fs, int updir);

/* Should the copy-up of lower object @st go through the index? */
static inline bool uf_index_wanted(const struct uf_fs *fs, const struct stat *st)
{
	return fs->index && S_ISREG(st->st_mode) && st->st_nlink > 1;
}

/* What an upper non-dir found as @ust at @name in layer @found of @L stands
 * for: when its overlay.origin is the handle of the object that @name shows
 * in the layers below, and that object is no hard link or is indexed with
 * this very upper object (the kernel's rule for using the origin's st_ino),
 * fills *ret_origin with the lower object's identity and returns 1 (with
 * *ret_indexed and *ret_diff for an indexed one); else 0. Never fails: an
 * origin that does not verify is only not used. */
int uf_origin_lookup(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
		     const char *name, const struct stat *ust, struct uf_key *ret_origin,
		     bool *ret_indexed, int *ret_diff);

/* Lower hard link @name in @dirfd of branch @branch, with index=on: its
 * index entry, if it has one whose origin is that object. Returns 1 with
 * an O_PATH fd of the entry in *ret_pin, its attributes and the nlink
 * difference; 0 when there is none; or -errno. */
int uf_index_lookup(struct uf_fs *fs, int dirfd, const char *name, unsigned branch,
		    struct stat *ret_st, int *ret_pin, int *ret_diff);

/* Copy-up through the index: publish @name in @pdir as the index entry of
 * @origin (@olen bytes). When the entry exists (another name of the lower
 * file was copied up) it is linked, and @fd is unused (may be -1); else the
 * copy (unnamed file @fd, or @tmp in @tmpdir) becomes the entry first, with
 * overlay.nlink for a union count of @lower_nlink. The copy's identity is
 * recorded as @ino's before the name appears. Fills @ret_st (the upper
 * object) and *ret_diff. Caller holds @ino->lock and the parent's. */
int uf_index_publish(struct uf_fs *fs, struct uf_inode *ino, int fd, int tmpdir, const char *tmp,
		     int pdir, const char *name, const uint8_t *origin, int olen,
		     unsigned lower_nlink, struct stat *ret_st, int *ret_diff);

/* Does the index hold an entry for @origin? */
bool uf_index_has(struct uf_fs *fs, const uint8_t *origin, int olen);

/* Indexed @ino lost a name: @lower_only when it was a name not linked in
 * the upper (a whiteout hid it), whose loss only overlay.nlink records.
 * When no name is left, its index entry goes, as the kernel's. */
void uf_index_unlinked(struct uf_fs *fs, struct uf_inode *ino, bool lower_only);

/* Before indexed @ino is renamed from @name of @dir: a name that only a
 * lower has is linked into the upper first (the kernel's ovl_link_up()),
 * so that the rename has an upper entry to move. Returns 0 or -errno. */
int uf_index_link_up(struct uf_fs *fs, struct uf_inode *ino, struct uf_inode *dir,
		     const char *name);
