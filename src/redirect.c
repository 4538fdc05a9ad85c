/* Renamed directories in stacked branches. A redirect names where a renamed
 * directory's lower parts are in the branch just below the one holding it,
 * which may itself hold renamed dirs: a stack of sessions, each one's upper
 * the next one's lower. So a lookup follows redirects branch by branch, and
 * a rename writes the path one branch down, exactly as the kernel overlayfs
 * does (fs/overlayfs/namei.c ovl_lookup(), ovl_lookup_layer(),
 * ovl_check_redirect(); dir.c ovl_set_redirect(), ovl_get_redirect()), so
 * that branches written by either read the same in both. The values are
 * judged by format.c; docs/format.md, "Redirects", states the rules. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "unionfuse/redirect.h"
#include "unionfuse/util.h"
#include "unionfuse/whiteout.h"

/* Where a directory's lookup is in the lower branches: the kernel's struct
 * ovl_lookup_data. */
struct walk {
	struct uf_fs *fs;
	const char *what; /* the union name, for the log */
	GString *name;	  /* one name (in the parent's layers) or a path "/a/b" */
	bool stop;	  /* nothing below the branch being searched merges */
};

/* Report an invalid redirect: once per mount, as it may be met on every
 * lookup. */
static void warn_redirect(struct uf_fs *fs, const char *name, int r)
{
	if (atomic_exchange(&fs->redirect_warned, true))
		return;
	g_autofree char *shown = g_strescape(name, NULL); /* a branch's name: any bytes */
	uf_log(LOG_WARNING,
	       "invalid overlay.redirect on directory '%s' (%s): %s; further ones are not reported",
	       shown, g_strerror(-r),
	       r == -ENAMETOOLONG ? "it shows no lower content" : "looking it up fails");
}

/* Apply the redirect of real dir @fd, if it has one, to w->name, whose
 * bytes [@prelen, @postoff) name that dir (the whole name, or one
 * component of a path): an absolute redirect replaces everything before
 * @postoff, a relative one that component. An absolute one also undoes a
 * stop by an opaque dir above it on the path: it leads elsewhere. As
 * ovl_check_redirect(). Returns 1 when it applied one, 0, or -errno. */
static int check_redirect(struct walk *w, int fd, size_t prelen, size_t postoff)
{
	g_autofree char *val = NULL;
	int r = uf_dir_get_redirect(w->fs, fd, &val);

	if (r == -EINVAL || r == -EACCES || r == -ENAMETOOLONG)
		warn_redirect(w->fs, w->what, r);
	if (r == -ENAMETOOLONG) {
		/* A name no branch can hold: nothing below is found by it. */
		w->stop = true;
		return 0;
	}
	if (r < 0 || !val)
		return r;
	if (w->fs->untrusted_xattrs) {
		uf_log_limited(LOG_WARNING, "refusing to follow redirect for '%s' (userxattr)",
			       w->what);
		return -EPERM;
	}
	if (val[0] == '/') {
		g_string_erase(w->name, 0, (gssize)postoff);
		g_string_prepend(w->name, val);
		w->stop = false;
	} else {
		g_string_erase(w->name, (gssize)prelen, (gssize)(postoff - prelen));
		g_string_insert(w->name, (gssize)prelen, val);
	}
	return 1;
}

/* Open directory @name under @dirfd: one name, no symlink, not into
 * another mount. Returns an O_RDONLY fd or -errno. */
static int open_subdir(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve =
		    RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat pst, st;
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS)
		return -errno;
	/* Before Linux 5.6: O_NOFOLLOW, and compare the devices. */
	_cleanup_close_ int f = openat(dirfd, name, how.flags);
	if (f < 0)
		return -errno;
	if (fstat(dirfd, &pst) < 0 || fstat(f, &st) < 0)
		return -errno;
	return st.st_dev == pst.st_dev ? uf_take_fd(&f) : -EXDEV;
}

/* Look up one name, bytes [@prelen, @postoff) of w->name, under @dirfd in
 * branch @branch, as ovl_lookup_single(): *ret_fd gets the dir found, or
 * -1. A whiteout (also aufs's .wh.NAME) or a non-dir stops the search
 * below; so does an opaque dir, which is still found. In the bottom branch
 * (@last) nothing is read from the dir. Returns 0 or -errno. */
static int lookup_one(struct walk *w, int dirfd, bool last, size_t prelen, size_t postoff,
		      int *ret_fd)
{
	/* A copy: check_redirect() rewrites w->name. */
	g_autofree char *name = g_strndup(w->name->str + prelen, postoff - prelen);
	struct stat st;

	*ret_fd = -1;
	if (UF_WARN_ON(!*name || strchr(name, '/')))
		return -EIO;
	int r = uf_neg_errno(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW));
	if (r == -ENOENT || r == -ENAMETOOLONG) {
		if (!last && uf_has_aufs_whiteout(dirfd, name))
			w->stop = true;
		return 0;
	}
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode)) {
		w->stop = true; /* a whiteout or a non-dir */
		return 0;
	}
	_cleanup_close_ int fd = open_subdir(dirfd, name);
	if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM || fd == -EIO)
		return fd;
	if (fd < 0)
		return 0; /* changed meanwhile, or a mount: not followed */
	if (!last) {
		if (uf_dir_is_opaque(w->fs, fd)) {
			w->stop = true;
		} else {
			r = check_redirect(w, fd, prelen, postoff);
			if (r < 0)
				return r;
		}
	}
	*ret_fd = uf_take_fd(&fd);
	return 0;
}

/* Find w->name in one branch, as ovl_lookup_layer(): a name under @dirfd
 * (the parent's dir in that branch), or a path from @dirfd (the branch
 * root), one component at a time, each one's redirect applying to the rest
 * of the path in the branches below. Returns 0 and the dir or -1 in
 * *ret_fd, or -errno. */
static int lookup_layer(struct walk *w, int dirfd, bool last, int *ret_fd)
{
	if (w->name->str[0] != '/')
		return lookup_one(w, dirfd, last, 0, w->name->len, ret_fd);

	/* Counted from the end: a redirect may change what comes before. */
	size_t rem = w->name->len - 1;
	_cleanup_close_ int base = -1;

	for (;;) {
		const char *s = w->name->str + w->name->len - rem;
		const char *next = strchrnul(s, '/');
		size_t prelen = (size_t)(s - w->name->str), thislen = (size_t)(next - s);
		bool end = *next == '\0';
		int fd;

		if (UF_WARN_ON(s[-1] != '/'))
			return -EIO;
		int r = lookup_one(w, base >= 0 ? base : dirfd, last, prelen, prelen + thislen,
				   &fd);
		uf_closep(&base);
		base = fd;
		if (r < 0)
			return r;
		if (base < 0 || end)
			break;
		rem -= thislen + 1;
		if (UF_WARN_ON(rem >= w->name->len))
			return -EIO;
	}
	*ret_fd = uf_take_fd(&base);
	return 0;
}

int uf_redirect_lower_dirs(struct uf_fs *fs, const struct uf_layers *L, unsigned found,
			   const char *name, int top_fd, GArray *lowers, char **ret_redirect)
{
	g_autoptr(GString) wname = g_string_new(name);
	struct walk w = { .fs = fs, .what = name, .name = wname };
	unsigned top = L->v[found].branch;

	*ret_redirect = NULL;
	if (top == fs->n_branches - 1 || uf_dir_is_opaque(fs, top_fd))
		return 0;
	int r = check_redirect(&w, top_fd, 0, w.name->len);
	if (r < 0)
		return r;
	if (r > 0)
		*ret_redirect = g_strdup(w.name->str);

	/* Down the parent's layers while the name is one name; from the
	 * branch roots once it is a path, from the branch below the one whose
	 * redirect made it one. */
	bool path = w.name->str[0] == '/';
	unsigned i = found + 1, b = top + 1;
	while (!w.stop) {
		unsigned branch;
		int dirfd, fd;

		if (path) {
			if (b >= fs->n_branches)
				break;
			branch = b++;
			dirfd = fs->branches[branch].fd;
		} else {
			if (i >= L->n)
				break;
			branch = L->v[i].branch;
			dirfd = L->v[i++].fd;
		}
		r = lookup_layer(&w, dirfd, branch == fs->n_branches - 1, &fd);
		if (r < 0)
			return r;
		if (fd < 0)
			continue;
		g_array_append_val(lowers,
				   ((struct uf_layer){ .fd = fd, .wd = -1, .branch = branch }));
		if (!path && w.name->str[0] == '/') {
			path = true;
			b = branch + 1;
		}
	}
	return 0;
}

int uf_redirect_for_rename(struct uf_fs *fs, struct uf_inode *ino, bool samedir, char **ret)
{
	g_autofree char *val = NULL;

	*ret = NULL;
	if (!S_ISDIR(ino->type) || ino->nlower == 0)
		return 0;
	g_mutex_lock(&fs->inodes_lock);
	bool keep = ino->redirect && (samedir || ino->redirect[0] == '/');
	if (!keep && samedir)
		val = g_strdup(ino->name);
	g_mutex_unlock(&fs->inodes_lock);
	if (keep)
		return 0;
	/* Of any length: the kernel fails a rename with EXDEV past its
	 * redirect_max (256) and mv(1) copies the tree; it reads longer ones. */
	*ret = val ? g_steal_pointer(&val) : uf_inode_lower_path(fs, ino);
	return 0;
}
