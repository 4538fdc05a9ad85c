/* unionfuse merge [--userxattr] LOWER[:LOWER...]:UPPER: fold the upper into
 * the lower right below it (the target), so that the lowers alone show what
 * the union showed, and empty the upper (unionfuse-merge(8), docs/tools.md).
 *
 * Each change to the target is one atomic step (a rename, an exchange, a
 * whiteout) at a path the upper hides, and an upper entry goes only once
 * its effect is durable (fsync) in the target: the union's view never
 * changes, and a run killed at any point is finished by running it again.
 * Four passes over the upper, because a redirect may name any target path
 * and a later step may replace what is there:
 *
 *   0. each redirected dir's lower parts are copied, as the target holds
 *      them, to a hidden temporary in the target's root (a "stash") marked
 *      to reach what was below them, and the upper dir's redirect is
 *      pointed at the stash: nothing later changes what it names;
 *   1. in tree order: a redirected dir is published as a copy of its stash
 *      and loses its redirect; an opaque dir replaces the target's with an
 *      empty one and loses its mark; other dirs are made where the target
 *      has none; then each non-dir is copied in and removed from the upper;
 *   2. hard links of the upper, once every dir exists: one copy, linked at
 *      each name;
 *   3. depth first: whiteouts (a whiteout stays one in the target when a
 *      lower below it has the name), then each dir's metadata, and the
 *      emptied upper dir goes.
 *
 * The target is locked as `unionfuse lock` does and the upper as `check`
 * does; `check` must find nothing but temporaries (which are removed).
 * UF_MERGE_KILL_AT=N (a test hook) SIGKILLs the process before its Nth
 * step. Exit status: 0 merged (or nothing to merge), 1 not merged or
 * stopped by an error, 2 usage. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/layer/copy.h"
#include "unionfuse/layer/format.h"
#include "unionfuse/layer/stack.h"
#include "unionfuse/layer/temp.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

#define MERGE_DEPTH_MAX 512
/* The merge's work dir in the target's root, hidden in the union by a
 * whiteout of that name in the upper: copies are built there and the old
 * objects go there, out of every view (the kernel shows ".wh." names). */
#define MERGE_WORK ".wh..wh.uf-merge"
#define MERGE_STASH_PREFIX "/" MERGE_WORK "/"
/* On the target's copy of a group of hard links while its upper names go:
 * the upper inode's "dev:ino", so that a rerun links the rest to it. */
#define MERGE_LINK_XATTR "uf-merge-link"

/* The names of one inode of the upper with several links. */
struct group {
	nlink_t nlink;
	GPtrArray *paths; /* union paths of its names */
};

struct merge {
	const struct uf_stack *s;
	struct uf_stack below; /* the lowers under the target (fds borrowed) */
	int target;	       /* s->lower_fds[0] */
	int work;	       /* MERGE_WORK in the target */
	GHashTable *groups;    /* "dev:ino" -> struct group */
	GHashTable *stashes;   /* names in the work dir that a redirect names */
	unsigned long steps, kill_at, entries;
	const char *path; /* of what failed, for the message */
};

static void group_free(gpointer p)
{
	struct group *g = p;

	g_ptr_array_unref(g->paths);
	g_free(g);
}

/* Called before each change that is a step of the merge. */
static void step(struct merge *m)
{
	if (++m->steps == m->kill_at)
		kill(getpid(), SIGKILL);
}

static int open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The dir at @path ("" the root) below @root, one name at a time, no
 * symlink followed. Returns an fd or -errno. */
static int open_path(int root, const char *path)
{
	g_auto(GStrv) comps = g_strsplit(path, "/", -1);
	int fd = open_dir(root, ".");

	for (char **c = comps; fd >= 0 && *c; c++) {
		int next = open_dir(fd, *c);
		close(fd);
		fd = next;
	}
	return fd;
}

static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? g_strndup(path, slash - path) : g_strdup("");
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* What the lowers under the target show at @bp: 1 (and *ret), 0, -errno. */
static int below_lookup(struct merge *m, const char *bp, struct stat *ret)
{
	struct uf_stack_obj o;

	if (!bp || m->below.n_lowers == 0)
		return 0;
	int r = uf_stack_lookup(&m->below, bp, &o);
	if (r < 0)
		return r;
	if (o.fd >= 0)
		close(o.fd);
	if (o.layer < 0)
		return 0;
	if (ret)
		*ret = o.st;
	return 1;
}

/* Where the lowers under the target find the lower parts of the target's
 * dir at @path (a path in the lowers under the target, a new string), as a
 * lookup walks it: each target dir's redirect rewrites it (an absolute one
 * also past an opaque dir above), an opaque dir, a whiteout or a non-dir
 * ends it (NULL). */
static char *below_path(struct merge *m, const char *path)
{
	g_auto(GStrv) comps = g_strsplit(path, "/", -1);
	g_autofree char *bp = g_strdup("");
	_cleanup_close_ int cur = open_dir(m->target, ".");

	for (char **c = comps; *c; c++) {
		g_autofree char *next = bp ? uf_tool_join(bp, *c) : NULL;
		struct stat st;

		g_clear_pointer(&bp, g_free);
		if (cur < 0 || fstatat(cur, *c, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (cur >= 0 && uf_has_aufs_whiteout(cur, *c))
				return NULL;
			if (cur >= 0)
				close(cur);
			cur = -1;
			bp = g_steal_pointer(&next);
			if (!bp)
				return NULL;
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			return NULL; /* a whiteout or a non-dir hides what is below */
		int fd = open_dir(cur, *c);
		close(cur);
		cur = fd;
		if (fd < 0)
			return NULL;
		g_autofree char *rd = NULL;
		if (uf_layer_dir_get_redirect(&m->s->fmt, fd, &rd) < 0)
			return NULL; /* invalid: a lookup fails there */
		bp = rd ? uf_tool_redirect_source(next, rd) : g_steal_pointer(&next);
		if (uf_layer_dir_is_opaque(&m->s->fmt, fd))
			g_clear_pointer(&bp, g_free);
	}
	return g_steal_pointer(&bp);
}

/* A fresh temporary name in the work dir; what makes it fails with EEXIST
 * on a name a killed run left, and the caller takes another. */
static void fresh_tmp(char tmp[static UF_TMP_NAME_MAX])
{
	uf_tmp_name(tmp);
}

/* Move @tmp of the work dir to @name of @dirfd: an exchange with what is
 * there (then removed in the work dir) or a rename; each dir fsync'd. */
static int publish(struct merge *m, int dirfd, const char *tmp, const char *name)
{
	struct stat st;
	int r;

	step(m);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = uf_neg_errno(renameat2(m->work, tmp, dirfd, name, RENAME_EXCHANGE));
		if (r == 0)
			r = uf_neg_errno(fsync(dirfd));
		if (r == 0)
			r = uf_remove_tree(m->work, tmp);
	} else {
		r = uf_neg_errno(renameat2(m->work, tmp, dirfd, name, RENAME_NOREPLACE));
	}
	if (r == 0)
		r = uf_neg_errno(fsync(dirfd));
	if (r == 0)
		r = uf_neg_errno(fsync(m->work));
	return r;
}

/* Move @name of target dir @dirfd into the work dir, leaving a whiteout
 * when @whiteout, and remove it there. */
static int remove_aside(struct merge *m, int dirfd, const char *name, bool whiteout)
{
	char tmp[UF_TMP_NAME_MAX];
	int r;

	do {
		fresh_tmp(tmp);
		step(m);
		r = uf_neg_errno(renameat2(dirfd, name, m->work, tmp,
					   whiteout ? RENAME_WHITEOUT : RENAME_NOREPLACE));
	} while (r == -EEXIST);
	if (r == 0)
		r = uf_neg_errno(fsync(dirfd));
	if (r == 0)
		r = uf_remove_tree(m->work, tmp);
	return r;
}

/* Remove upper entry @name of @dirfd (a non-dir), durably. */
static int upper_unlink(struct merge *m, int dirfd, const char *name)
{
	step(m);
	int r = uf_neg_errno(unlinkat(dirfd, name, 0));
	if (r == 0)
		r = uf_neg_errno(fsync(dirfd));
	return r;
}

/* An aufs ".wh.NAME" beside upper non-dir @name of @dirfd hides what is
 * below NAME, as the entry's copy in the target now does: it goes first,
 * lest pass 3 take it for a whiteout of the copy. */
static int upper_drop_aufs(struct merge *m, int dirfd, const char *name)
{
	g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);

	if (!uf_has_aufs_whiteout(dirfd, name))
		return 0;
	return upper_unlink(m, dirfd, wh);
}

/* Drop the opaque mark (either form) or the redirect of upper dir @fd. */
static int upper_drop_mark(struct merge *m, int fd, const char *xattr)
{
	struct stat st;
	int r;

	step(m);
	r = uf_neg_errno(fremovexattr(fd, xattr));
	if (r == -ENODATA)
		r = 0;
	if (r == 0 && strcmp(xattr, m->s->fmt.opaque) == 0 &&
	    fstatat(fd, UF_WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = uf_neg_errno(unlinkat(fd, UF_WH_OPAQUE, 0));
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	return r;
}

/* A new empty dir @tmp in target dir @dirfd, opaque when @opaque. */
static int make_dir(struct merge *m, int dirfd, const char *tmp, bool opaque)
{
	int r = uf_neg_errno(mkdirat(dirfd, tmp, 0700));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_dir(dirfd, tmp);
	if (fd < 0)
		return fd;
	if (opaque)
		r = uf_layer_dir_set_opaque(&m->s->fmt, fd);
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	return r;
}

/* Give the stash dir @fd the marks that make it reach, from the target's
 * root, what the lowers under the target have at @bsrc: a redirect there,
 * or opaque when there is no dir there. */
static int mark_stash(struct merge *m, int fd, const char *bsrc)
{
	struct stat st;
	int r = uf_neg_errno(fremovexattr(fd, m->s->fmt.redirect));

	if (r == 0 || r == -ENODATA)
		r = uf_neg_errno(fremovexattr(fd, m->s->fmt.opaque));
	if (r == -ENODATA)
		r = 0;
	if (r == 0 && fstatat(fd, UF_WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = uf_neg_errno(unlinkat(fd, UF_WH_OPAQUE, 0));
	if (r < 0)
		return r;
	int has = below_lookup(m, bsrc, &st);
	if (has < 0)
		return has;
	if (has && S_ISDIR(st.st_mode)) {
		g_autofree char *abs = g_strconcat("/", bsrc, NULL);
		return uf_layer_dir_set_redirect(&m->s->fmt, fd, abs);
	}
	return uf_layer_dir_set_opaque(&m->s->fmt, fd);
}

/* Pass 0 for upper dir @fd, whose redirect leads to @src in the lowers
 * (NULL: to nothing): copy the target's dir there to a stash, point the
 * redirect at it. Returns 0 and the stash's name in *ret, or -errno. */
static int stash(struct merge *m, int fd, const char *src, char **ret)
{
	char tmp[UF_TMP_NAME_MAX];
	g_autofree char *bsrc = src ? below_path(m, src) : NULL;
	g_autofree char *pp = src ? parent_of(src) : NULL;
	_cleanup_close_ int parent = src ? open_path(m->target, pp) : -ENOENT;
	_cleanup_close_ int part = parent >= 0 ? open_dir(parent, base_of(src)) : -ENOENT;
	int r;

	do {
		fresh_tmp(tmp);
		step(m);
		if (part >= 0)
			r = uf_layer_copy_tree(parent, base_of(src), m->work, tmp);
		else
			r = make_dir(m, m->work, tmp, false);
	} while (r == -EEXIST);
	_cleanup_close_ int sfd = r < 0 ? r : open_dir(m->work, tmp);
	if (sfd < 0)
		return sfd;
	r = mark_stash(m, sfd, bsrc);
	if (r == 0)
		r = uf_neg_errno(fsync(sfd));
	if (r == 0)
		r = uf_neg_errno(fsync(m->work));
	if (r < 0)
		return r;
	g_autofree char *abs = g_strconcat(MERGE_STASH_PREFIX, tmp, NULL);
	step(m);
	r = uf_layer_dir_set_redirect(&m->s->fmt, fd, abs);
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	if (r == 0) {
		*ret = g_strconcat(MERGE_WORK "/", tmp, NULL);
		g_hash_table_add(m->stashes, g_strdup(tmp));
	}
	return r;
}

static bool is_stash_redirect(const char *rd)
{
	return g_str_has_prefix(rd, MERGE_STASH_PREFIX) &&
	       !strchr(rd + strlen(MERGE_STASH_PREFIX), '/');
}

/* Is @name of @dirfd (@st) an entry of the format rather than data: a
 * whiteout (either form) or another ".wh." name? */
static bool format_entry(const char *name, const struct stat *st)
{
	return uf_format_is_whiteout(st) || uf_is_wh_name(name);
}

/* Pass 0: stashes for the redirected dirs below upper dir @dfd (at @path,
 * its lowers at @lp, NULL for none), and the hard-link groups. */
static int pass_stash(struct merge *m, int dfd, const char *path, const char *lp, int depth)
{
	g_autoptr(GPtrArray) names = NULL;

	if (depth > MERGE_DEPTH_MAX)
		return -ELOOP;
	int r = uf_tool_list_dir(dfd, NULL, &names);
	for (guint i = 0; r == 0 && i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *cpath = uf_tool_join(path, name);
		g_autofree char *clp = lp ? uf_tool_join(lp, name) : NULL;
		struct stat st;

		m->path = path;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (format_entry(name, &st))
			continue;
		if (uf_has_aufs_whiteout(dfd, name))
			g_clear_pointer(&clp, g_free);
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			g_autofree char *key = g_strdup_printf("%lu:%lu", (unsigned long)st.st_dev,
							       (unsigned long)st.st_ino);
			struct group *g = g_hash_table_lookup(m->groups, key);
			if (!g) {
				g = g_new0(struct group, 1);
				g->nlink = st.st_nlink;
				g->paths = g_ptr_array_new_with_free_func(g_free);
				g_hash_table_insert(m->groups, g_steal_pointer(&key), g);
			}
			g_ptr_array_add(g->paths, g_strdup(cpath));
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		_cleanup_close_ int fd = open_dir(dfd, name);
		g_autofree char *rd = NULL;
		g_autofree char *stashed = NULL;
		if (fd < 0)
			return fd;
		m->path = cpath;
		if (uf_layer_dir_is_opaque(&m->s->fmt, fd)) {
			/* No lower parts: its redirect, if any, goes in pass 1. */
			r = pass_stash(m, fd, cpath, NULL, depth + 1);
			continue;
		}
		r = uf_layer_dir_get_redirect(&m->s->fmt, fd, &rd);
		if (r < 0)
			return r;
		if (rd && is_stash_redirect(rd)) {
			g_hash_table_add(m->stashes, g_strdup(rd + strlen(MERGE_STASH_PREFIX)));
			r = pass_stash(m, fd, cpath, rd + 1, depth + 1);
		} else if (rd) {
			g_autofree char *src = uf_tool_redirect_source(clp, rd);
			r = stash(m, fd, src, &stashed);
			if (r == 0)
				r = pass_stash(m, fd, cpath, stashed, depth + 1);
		} else {
			r = pass_stash(m, fd, cpath, clp, depth + 1);
		}
	}
	return r;
}

/* Is upper file @st one name of a group whose every name is in the upper?
 * Those are merged in pass 2. */
static bool in_group(struct merge *m, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_nlink < 2)
		return false;
	g_autofree char *key =
	    g_strdup_printf("%lu:%lu", (unsigned long)st->st_dev, (unsigned long)st->st_ino);
	struct group *g = g_hash_table_lookup(m->groups, key);
	return g && g->paths->len == g->nlink;
}

/* An fd to read the data of upper file @name of @dfd from, for a
 * metadata-only copy: the lower file it names (at @lp, or where its
 * redirect leads). Returns an fd, -ENOENT when the file has its own data,
 * or another -errno. */
static int data_source(struct merge *m, int dfd, const char *name, const char *lp)
{
	g_autofree char *at = uf_at_path(dfd, name);
	int mc = uf_layer_file_get_metacopy(&m->s->fmt, at);

	if (mc < 0)
		return mc;
	if (mc == 0)
		return -ENOENT; /* its own data */
	char rbuf[UF_REDIRECT_MAX + 1];
	g_autofree char *rd = NULL;
	g_autofree char *src = NULL;
	ssize_t n = lgetxattr(at, m->s->fmt.redirect, rbuf, sizeof(rbuf) - 1);
	if (n > 0 && uf_redirect_parse(rbuf, n, m->s->fmt.name_max, &rd) == 0)
		src = uf_tool_redirect_source(lp, rd);
	struct uf_stack_obj o;
	int r = uf_stack_lookup(m->s, src ? src : lp, &o);
	if (r < 0)
		return r;
	_cleanup_close_ int ofd = o.fd;
	if (o.layer < 0 || !S_ISREG(o.st.st_mode))
		return -EIO; /* no data: check refuses that */
	char buf[UF_PROC_FD_MAX];
	int fd = open(uf_proc_fd(buf, ofd), O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Pass 1 for a non-dir of the upper: a copy, published, then the upper's
 * name goes. @lp is where the lowers have it. */
static int merge_nondir(struct merge *m, int udir, const char *name, int tdir, const char *lp)
{
	char tmp[UF_TMP_NAME_MAX];
	_cleanup_close_ int data = -1;
	int r;

	data = data_source(m, udir, name, lp);
	if (data == -ENOENT)
		data = -1; /* its own data */
	else if (data < 0)
		return data;
	do {
		fresh_tmp(tmp);
		step(m);
		r = uf_layer_copy_node(udir, name, data, m->work, tmp, m->s->fmt.prefix);
	} while (r == -EEXIST);
	if (r == 0)
		r = publish(m, tdir, tmp, name);
	if (r == 0)
		r = upper_drop_aufs(m, udir, name);
	if (r == 0)
		r = upper_unlink(m, udir, name);
	m->entries += r == 0;
	return r;
}

/* Pass 1 below upper dir @ufd at @path, whose target dir is @tfd. */
static int pass_copy(struct merge *m, int ufd, int tfd, const char *path, int depth)
{
	g_autoptr(GPtrArray) names = NULL;
	g_autofree char *bp = below_path(m, path);

	if (depth > MERGE_DEPTH_MAX)
		return -ELOOP;
	int r = uf_tool_list_dir(ufd, NULL, &names);
	for (guint i = 0; r == 0 && i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *cpath = uf_tool_join(path, name);
		g_autofree char *cbp = bp ? uf_tool_join(bp, name) : NULL;
		char tmp[UF_TMP_NAME_MAX];
		struct stat st, tst;

		m->path = cpath;
		if (fstatat(ufd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (format_entry(name, &st))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			if (!in_group(m, &st))
				r = merge_nondir(m, ufd, name, tfd, cpath);
			continue;
		}
		_cleanup_close_ int cfd = open_dir(ufd, name);
		g_autofree char *rd = NULL;
		if (cfd < 0)
			return cfd;
		bool in_target = fstatat(tfd, name, &tst, AT_SYMLINK_NOFOLLOW) == 0;
		bool opaque = uf_layer_dir_is_opaque(&m->s->fmt, cfd);
		if (!opaque) {
			r = uf_layer_dir_get_redirect(&m->s->fmt, cfd, &rd);
			if (r < 0)
				return r;
		}
		if (rd) {
			/* A copy of its stash (pass 0), then the redirect goes:
			 * the copy reaches what the stash did. */
			if (!is_stash_redirect(rd))
				return -EIO;
			do {
				fresh_tmp(tmp);
				step(m);
				r = uf_layer_copy_tree(m->work, rd + strlen(MERGE_STASH_PREFIX),
						       m->work, tmp);
			} while (r == -EEXIST);
			if (r == 0)
				r = publish(m, tfd, tmp, name);
			if (r == 0)
				r = upper_drop_mark(m, cfd, m->s->fmt.redirect);
		} else if (opaque || (in_target && !S_ISDIR(tst.st_mode)) ||
			   (!in_target && uf_has_aufs_whiteout(tfd, name))) {
			/* Nothing below shows through it: an empty dir that is
			 * opaque when the lowers under the target have the name.
			 * Then the upper's opaque mark goes, before anything is
			 * merged into the new dir, so a rerun keeps what is. */
			int has = below_lookup(m, cbp, NULL);
			if (has < 0)
				return has;
			do {
				fresh_tmp(tmp);
				step(m);
				r = make_dir(m, m->work, tmp, has);
			} while (r == -EEXIST);
			if (r == 0)
				r = publish(m, tfd, tmp, name);
			/* A redirect of an opaque dir leads nowhere; it goes
			 * first, while the dir is still opaque. */
			if (r == 0 && fgetxattr(cfd, m->s->fmt.redirect, NULL, 0) >= 0)
				r = upper_drop_mark(m, cfd, m->s->fmt.redirect);
			if (r == 0 && opaque)
				r = upper_drop_mark(m, cfd, m->s->fmt.opaque);
		} else if (!in_target) {
			/* Merges with what is below, as the upper dir did. */
			do {
				fresh_tmp(tmp);
				step(m);
				r = make_dir(m, m->work, tmp, false);
			} while (r == -EEXIST);
			if (r == 0)
				r = publish(m, tfd, tmp, name);
		}
		if (r < 0)
			return r;
		_cleanup_close_ int ctfd = open_dir(tfd, name);
		if (ctfd < 0)
			return ctfd;
		r = pass_copy(m, cfd, ctfd, cpath, depth + 1);
	}
	return r;
}

/* Pass 2: one group of hard links, all of whose names are in the upper:
 * one copy, marked with the upper inode, linked at each name; the copy's
 * own name goes (it would count in st_nlink); then the upper's names go,
 * back to back (one step: a crash among them shows the names gone and those
 * left as two inodes until the rerun), then the mark. A rerun finds the
 * mark on a name already published and links the rest to it. */
static int merge_group(struct merge *m, struct group *g, const char *key)
{
	g_autofree char *mark = g_strconcat(m->s->fmt.prefix, MERGE_LINK_XATTR, NULL);
	char stash[UF_TMP_NAME_MAX], val[64];
	const char *first = g->paths->pdata[0];
	int r = -ENOENT;

	m->path = first;
	/* A rerun: a name published by the killed run. */
	for (guint i = 0; r == -ENOENT && i < g->paths->len; i++) {
		const char *p = g->paths->pdata[i];
		g_autofree char *pp = parent_of(p);
		_cleanup_close_ int tfd = open_path(m->target, pp);
		_cleanup_close_ int fd =
		    tfd < 0 ? -1 : openat(tfd, base_of(p), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : fgetxattr(fd, mark, val, sizeof(val) - 1);
		if (n > 0 && (size_t)n == strlen(key) && memcmp(val, key, n) == 0) {
			do {
				fresh_tmp(stash);
				char buf[UF_PROC_FD_MAX];
				r = uf_neg_errno(linkat(AT_FDCWD, uf_proc_fd(buf, fd), m->work,
							stash, AT_SYMLINK_FOLLOW));
			} while (r == -EEXIST);
			if (r < 0)
				return r;
		}
	}
	if (r == -ENOENT) {
		g_autofree char *fp = parent_of(first);
		_cleanup_close_ int ufd = open_path(m->s->upper_fd, fp);
		_cleanup_close_ int data = -1;
		if (ufd < 0)
			return ufd;
		data = data_source(m, ufd, base_of(first), first);
		if (data == -ENOENT)
			data = -1;
		else if (data < 0)
			return data;
		do {
			fresh_tmp(stash);
			step(m);
			r = uf_layer_copy_node(ufd, base_of(first), data, m->work, stash,
					       m->s->fmt.prefix);
		} while (r == -EEXIST);
		if (r == 0) {
			_cleanup_close_ int fd =
			    openat(m->work, stash, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? -errno
				   : uf_neg_errno(fsetxattr(fd, mark, key, strlen(key), 0));
			if (r == 0)
				r = uf_neg_errno(fsync(fd));
		}
	}
	for (guint i = 0; r == 0 && i < g->paths->len; i++) {
		const char *p = g->paths->pdata[i];
		g_autofree char *pp = parent_of(p);
		_cleanup_close_ int tfd = open_path(m->target, pp);
		char tmp[UF_TMP_NAME_MAX];
		struct stat a, b;

		m->path = p;
		if (tfd < 0)
			return tfd;
		if (fstatat(tfd, base_of(p), &a, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fstatat(m->work, stash, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			continue; /* linked by the killed run */
		do {
			fresh_tmp(tmp);
			step(m);
			r = uf_neg_errno(linkat(m->work, stash, m->work, tmp, 0));
		} while (r == -EEXIST);
		if (r == 0)
			r = publish(m, tfd, tmp, base_of(p));
	}
	/* The stash's link goes before the target's names show. */
	_cleanup_close_ int fd =
	    r < 0 ? -1 : openat(m->work, stash, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (r == 0) {
		step(m);
		r = uf_neg_errno(unlinkat(m->work, stash, 0));
	}
	if (r == 0)
		r = uf_neg_errno(fsync(m->work));
	if (r == 0)
		step(m);
	for (guint i = 0; r == 0 && i < g->paths->len; i++) {
		const char *p = g->paths->pdata[i];
		g_autofree char *pp = parent_of(p);
		_cleanup_close_ int pfd = open_path(m->s->upper_fd, pp);

		m->path = p;
		r = pfd < 0 ? pfd : uf_neg_errno(unlinkat(pfd, base_of(p), 0));
		if (r == 0)
			r = uf_neg_errno(fsync(pfd));
		m->entries += r == 0;
	}
	if (r == 0) {
		step(m);
		r = uf_neg_errno(fremovexattr(fd, mark));
	}
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	return r;
}

/* Make the non-private xattrs of target dir @tfd those of upper dir @ufd. */
static int sync_xattrs(struct merge *m, int ufd, int tfd)
{
	g_autofree char *names = NULL;
	ssize_t n = uf_xlist_all(&(struct uf_xobj){ .fd = tfd }, &names);

	if (n == -ENOTSUP)
		return 0;
	for (char *x = names; n > 0 && x < names + n; x += strlen(x) + 1) {
		if (uf_is_private_xattr(m->s->fmt.prefix, x))
			continue;
		int r = uf_neg_errno(fremovexattr(tfd, x));
		if (r < 0 && r != -ENODATA)
			return r;
	}
	if (n < 0)
		return (int)n;
	return uf_layer_copy_xattrs(m->s->fmt.prefix, &(struct uf_xobj){ .fd = ufd },
				    &(struct uf_xobj){ .fd = tfd });
}

/* Pass 3: a whiteout at @name of upper dir @ufd, over target dir @tfd,
 * whose lower parts under the target are at @bp. */
static int merge_whiteout(struct merge *m, int ufd, const char *uname, int tfd, const char *name,
			  const char *bp)
{
	g_autofree char *cbp = bp ? uf_tool_join(bp, name) : NULL;
	struct stat tst;
	int has = below_lookup(m, cbp, NULL);
	int r = 0;

	if (has < 0)
		return has;
	/* A ".wh.NAME" beside the upper's own NAME: the daemon shows NAME,
	 * merged with what is below when it is a dir; it hides nothing. */
	if (strcmp(uname, name) != 0 && fstatat(ufd, name, &tst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !uf_format_is_whiteout(&tst))
		return upper_unlink(m, ufd, uname);
	if (fstatat(tfd, name, &tst, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!(has && uf_format_is_whiteout(&tst))) {
			r = remove_aside(m, tfd, name, has);
		}
	} else if (has) {
		step(m);
		r = uf_layer_whiteout_create(tfd, name);
	}
	if (r == 0)
		r = uf_neg_errno(fsync(tfd));
	if (r == 0)
		r = upper_unlink(m, ufd, uname);
	m->entries += r == 0;
	return r;
}

/* Pass 3 below upper dir @ufd at @path over target dir @tfd; then the
 * dir's own metadata goes to the target, and (unless it is the root) the
 * emptied upper dir is removed from @uparent. */
static int pass_finish(struct merge *m, int uparent, const char *uname, int ufd, int tfd,
		       const char *path, int depth)
{
	g_autoptr(GPtrArray) names = NULL;
	g_autofree char *bp = below_path(m, path);
	struct stat st;

	if (depth > MERGE_DEPTH_MAX)
		return -ELOOP;
	int r = uf_tool_list_dir(ufd, NULL, &names);
	for (guint i = 0; r == 0 && i < names->len; i++) {
		const char *name = names->pdata[i], *target = NULL;
		g_autofree char *cpath = uf_tool_join(path, name);

		m->path = cpath;
		if (fstatat(ufd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (uparent < 0 && strcmp(name, MERGE_WORK) == 0)
			continue; /* the work dir's, last */
		if (uf_format_is_whiteout(&st)) {
			r = merge_whiteout(m, ufd, name, tfd, name, bp);
		} else if (uf_wh_name_parse(name, &target) == UF_WH_TARGET &&
			   uf_format_is_aufs_whiteout(&st)) {
			r = merge_whiteout(m, ufd, name, tfd, target, bp);
		} else if (S_ISDIR(st.st_mode) && !uf_is_wh_name(name)) {
			_cleanup_close_ int cfd = open_dir(ufd, name);
			_cleanup_close_ int ctfd = open_dir(tfd, name);
			if (cfd < 0 || ctfd < 0)
				return cfd < 0 ? cfd : ctfd;
			r = pass_finish(m, ufd, name, cfd, ctfd, cpath, depth + 1);
		}
	}
	if (r < 0)
		return r;
	m->path = path;
	if (fstat(ufd, &st) < 0)
		return -errno;
	if (uparent < 0 && m->entries == 0) {
		struct stat tst;
		/* An empty upper changes nothing: not even the root's ctime. */
		if (fstat(tfd, &tst) < 0)
			return -errno;
		if (tst.st_mode == st.st_mode && tst.st_uid == st.st_uid &&
		    tst.st_gid == st.st_gid && tst.st_mtim.tv_sec == st.st_mtim.tv_sec &&
		    tst.st_mtim.tv_nsec == st.st_mtim.tv_nsec)
			return 0;
	}
	step(m);
	r = uf_neg_errno(fchown(tfd, st.st_uid, st.st_gid));
	if (r == 0)
		r = uf_neg_errno(fchmod(tfd, st.st_mode & 07777));
	if (r == 0)
		r = sync_xattrs(m, ufd, tfd);
	if (r == 0)
		r = uf_neg_errno(futimens(tfd, (struct timespec[2]){ st.st_atim, st.st_mtim }));
	if (r == 0)
		r = uf_neg_errno(fsync(tfd));
	if (r < 0 || uparent < 0)
		return r;

	/* Only format entries that do nothing are left (".wh..wh..opq" went
	 * with the opaque mark, in pass 1). */
	g_autoptr(GPtrArray) left = NULL;
	r = uf_tool_list_dir(ufd, NULL, &left);
	for (guint i = 0; r == 0 && i < left->len; i++)
		if (!uf_is_wh_name(left->pdata[i]))
			r = -ENOTEMPTY;
	if (r < 0)
		return r;
	step(m);
	r = uf_remove_tree(uparent, uname);
	if (r == 0)
		r = uf_neg_errno(fsync(uparent));
	m->entries += r == 0;
	return r;
}

/* Lock the upper as a daemon does (super.c), giving a mount that is just
 * going five seconds, and each lower as `unionfuse lock` does. Returns 0,
 * or -1 after one line on stderr. */
static int lock_branches(const struct uf_stack *s)
{
	struct stat st;
	int fd = s->upper_fd, i, e;
	const char *path = s->upper_path;

	for (i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK || i == 100)
			goto fail;
		g_usleep(50 * 1000);
	}
	for (unsigned l = 0; l < s->n_lowers; l++) {
		fd = s->lower_fds[l];
		path = s->lower_paths[l];
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			goto fail;
	}
	return 0;
fail:
	e = errno;
	if (e == EWOULDBLOCK) {
		g_autofree char *who = NULL;
		if (fstat(fd, &st) == 0)
			who = uf_lock_holders(st.st_dev, st.st_ino, false);
		fprintf(stderr, "unionfuse merge: branch '%s' is in use by %s: unmount it first\n",
			path, who ? who : "another process");
	} else {
		fprintf(stderr, "unionfuse merge: cannot lock branch '%s': %s\n", path,
			g_strerror(e));
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: unionfuse merge [--userxattr] LOWER[:LOWER...]:UPPER\n"
		   "\n"
		   "Fold UPPER into the lower right below it, so that the lowers alone show\n"
		   "what the union showed, and leave UPPER empty. Refused while a mount uses\n"
		   "any of the branches, or when `unionfuse check` finds damage. Safe to kill:\n"
		   "run it again to finish.\n"
		   "\n"
		   "    --userxattr   the format is in user.overlay.* (default as root:\n"
		   "                  trusted.overlay.*)\n"
		   "    -h, --help    this help\n");
}

/* The work dir, hidden first by a whiteout in the upper. */
static int open_work(struct merge *m)
{
	struct stat st;
	int r = 0;

	if (fstatat(m->s->upper_fd, MERGE_WORK, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		step(m);
		r = uf_neg_errno(mknodat(m->s->upper_fd, MERGE_WORK, S_IFCHR | 0000, 0));
		if (r == 0)
			r = uf_neg_errno(fsync(m->s->upper_fd));
	} else if (!uf_format_is_whiteout(&st)) {
		r = -EEXIST;
	}
	if (r < 0)
		return r;
	r = uf_neg_errno(mkdirat(m->target, MERGE_WORK, 0700));
	if (r == -EEXIST)
		r = 0;
	if (r == 0)
		r = uf_neg_errno(fsync(m->target));
	if (r < 0)
		return r;
	m->work = open_dir(m->target, MERGE_WORK);
	return m->work < 0 ? m->work : 0;
}

static int run(struct merge *m)
{
	int r = open_work(m);
	if (r == 0)
		r = pass_stash(m, m->s->upper_fd, "", "", 0);
	/* What a killed run left in the work dir but the stashes in use. */
	g_autoptr(GPtrArray) left = NULL;
	if (r == 0)
		r = uf_tool_list_dir(m->work, NULL, &left);
	for (guint i = 0; r == 0 && i < left->len; i++)
		if (!g_hash_table_contains(m->stashes, left->pdata[i]))
			r = uf_remove_tree(m->work, left->pdata[i]);
	if (r == 0)
		r = pass_copy(m, m->s->upper_fd, m->target, "", 0);

	GHashTableIter it;
	gpointer key, g;
	g_hash_table_iter_init(&it, m->groups);
	while (r == 0 && g_hash_table_iter_next(&it, &key, &g))
		r = merge_group(m, g, key);
	if (r == 0)
		r = pass_finish(m, -1, NULL, m->s->upper_fd, m->target, "", 0);
	if (r < 0)
		return r;
	/* No redirect names a stash any more: the work dir goes, then what
	 * hid it. */
	m->path = MERGE_WORK;
	step(m);
	r = uf_remove_tree(m->target, MERGE_WORK);
	if (r == 0)
		r = uf_neg_errno(fsync(m->target));
	if (r == 0)
		r = upper_unlink(m, m->s->upper_fd, MERGE_WORK);
	return r;
}

int uf_tool_merge(int argc, char **argv)
{
	struct merge m = { 0 };
	struct uf_stack s;
	bool userxattr = false;
	const char *kill_at = getenv("UF_MERGE_KILL_AT");
	g_autoptr(GPtrArray) names = NULL; /* here: the gotos below skip to out */
	int i, status = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--userxattr") == 0) {
			userxattr = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "unionfuse merge: unknown option '%s' (see --help)\n",
				argv[i]);
			return 2;
		}
	}
	if (i != argc - 1) {
		fprintf(stderr, "unionfuse merge: give one LOWER[:LOWER...]:UPPER (see --help)\n");
		return 2;
	}
	umask(0);
	if (uf_tool_open_stack("merge", argv[i], userxattr, &s) < 0)
		goto out;
	struct stat ust, tst;
	if (fstat(s.upper_fd, &ust) < 0 || fstat(s.lower_fds[0], &tst) < 0 ||
	    (ust.st_dev == tst.st_dev && ust.st_ino == tst.st_ino)) {
		fprintf(stderr, "unionfuse merge: the upper and the target are one directory\n");
		goto out;
	}
	if (lock_branches(&s) < 0)
		goto out;
	if (uf_layer_dir_is_opaque(&s.fmt, s.upper_fd)) {
		fprintf(stderr, "unionfuse merge: upper '%s' has an opaque root: not supported\n",
			s.upper_path);
		goto out;
	}
	unsigned left = uf_check_for_merge(&s);
	fflush(stdout); /* its lines before ours */
	if (left) {
		fprintf(stderr,
			"unionfuse merge: upper '%s' has %u problem%s (above; see unionfuse "
			"check): not merged\n",
			s.upper_path, left, left == 1 ? "" : "s");
		goto out;
	}
	m.s = &s;
	m.target = s.lower_fds[0];
	m.below = s;
	m.below.n_lowers = s.n_lowers - 1;
	m.below.lower_fds = s.lower_fds + 1;
	m.below.lower_paths = s.lower_paths + 1;
	m.groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, group_free);
	m.stashes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	m.kill_at = kill_at ? strtoul(kill_at, NULL, 10) : 0;
	m.work = -1;
	int r = uf_tool_list_dir(s.upper_fd, NULL, &names);
	if (r == 0 && names->len > 0)
		r = run(&m);
	if (m.work >= 0)
		close(m.work);
	g_hash_table_destroy(m.groups);
	g_hash_table_destroy(m.stashes);
	if (r < 0) {
		fflush(stdout);
		fprintf(stderr, "unionfuse merge: '%s': %s (run it again to finish)\n",
			m.path && *m.path ? m.path : ".", g_strerror(-r));
		goto out;
	}
	if (m.entries)
		printf("merged %lu entries of '%s' into '%s' (%lu steps)\n", m.entries,
		       s.upper_path, s.lower_paths[0], m.steps);
	else
		printf("nothing to merge\n");
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	uf_stack_done(&s);
	return status;
}
