/* A branch stack read offline (stack.h): opening the branches, and finding
 * what the lowers show at a path the way the daemon's lookup does, layer
 * by layer (redirect.c), but with no inode table and no FUSE. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "unionfuse/layer/stack.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/util.h"

static int open_dir(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int uf_stack_open(char *const *paths, unsigned n, bool userxattr, struct uf_stack *s,
		  char **reterr_msg)
{
	const char *prefix = userxattr ? "user.overlay." : "trusted.overlay.";

	*s = (struct uf_stack){ .upper_fd = -1 };
	s->fmt.prefix = g_strdup(prefix);
	s->fmt.opaque = g_strconcat(prefix, "opaque", NULL);
	s->fmt.redirect = g_strconcat(prefix, "redirect", NULL);
	s->fmt.metacopy = g_strconcat(prefix, "metacopy", NULL);
	s->fmt.name_max = 255;
	if (n < 2) {
		*reterr_msg = g_strdup("need at least one lower branch and the upper: LOWER:UPPER");
		return -EINVAL;
	}
	s->n_lowers = n - 1;
	s->lower_fds = g_new(int, s->n_lowers);
	s->lower_paths = g_new0(char *, s->n_lowers + 1);
	for (unsigned i = 0; i < s->n_lowers; i++)
		s->lower_fds[i] = -1;
	for (unsigned i = 0; i < n; i++) {
		/* A branch given as a symlink is followed: it is the user's own
		 * argument, not a name found in a branch. */
		int fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int r = -errno;
			*reterr_msg = g_strdup_printf("branch '%s': %s", paths[i], g_strerror(-r));
			return r;
		}
		if (i == n - 1) {
			s->upper_fd = fd;
			s->upper_path = g_strdup(paths[i]);
		} else {
			/* Top-first, as the daemon keeps them. */
			s->lower_fds[n - 2 - i] = fd;
			s->lower_paths[n - 2 - i] = g_strdup(paths[i]);
		}
	}
	return 0;
}

void uf_stack_done(struct uf_stack *s)
{
	for (unsigned i = 0; s->lower_fds && i < s->n_lowers; i++)
		if (s->lower_fds[i] >= 0)
			close(s->lower_fds[i]);
	g_free(s->lower_fds);
	g_strfreev(s->lower_paths);
	if (s->upper_fd >= 0)
		close(s->upper_fd);
	g_free(s->upper_path);
	g_free((char *)s->fmt.prefix);
	g_free((char *)s->fmt.opaque);
	g_free((char *)s->fmt.redirect);
	g_free((char *)s->fmt.metacopy);
	*s = (struct uf_stack){ .upper_fd = -1 };
}

/* Open the dir holding the last component of @rel (names joined by '/')
 * below branch root @root; *ret_name points at that component. Returns
 * the dir's fd or -errno. */
static int open_parent(int root, const char *rel, const char **ret_name)
{
	const char *slash = strrchr(rel, '/');
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*ret_name = slash ? slash + 1 : rel;
	if (!slash || fd < 0)
		return fd < 0 ? -errno : fd;
	g_autofree char *dir = g_strndup(rel, slash - rel);
	g_auto(GStrv) comps = g_strsplit(dir, "/", -1);
	for (char **c = comps; *c; c++) {
		int next = open_dir(fd, *c);
		int r = -errno;
		close(fd);
		if (next < 0)
			return r;
		fd = next;
	}
	return fd;
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One component @comp below the dirs @cur (one per lower, -1 where the
 * path has no dir): fills @next with the dirs found and *ret with the top
 * object. Returns 0 or -errno. */
static int lookup_component(const struct uf_stack *s, const int *cur, const char *comp, int *next,
			    struct uf_stack_obj *ret)
{
	g_autofree char *name = g_strdup(comp);
	g_autofree char *abs = NULL; /* an absolute redirect, for the layers below */

	for (unsigned i = 0; i < s->n_lowers; i++)
		next[i] = -1;
	for (unsigned i = 0; i < s->n_lowers; i++) {
		_cleanup_close_ int pfd = -1;
		const char *nm = name;
		int parent = cur[i];
		struct stat st;

		if (abs) {
			pfd = open_parent(s->lower_fds[i], abs, &nm);
			if (pfd < 0)
				continue; /* no such dir in this layer */
			parent = pfd;
		}
		if (parent < 0)
			continue;
		if (fstatat(parent, nm, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENAMETOOLONG)
				return -errno;
			if (uf_has_aufs_whiteout(parent, nm))
				break;
			continue;
		}
		if (uf_format_is_whiteout(&st))
			break;
		if (!S_ISDIR(st.st_mode)) {
			/* A non-dir below a dir is hidden by it. */
			if (ret->layer < 0) {
				ret->fd = openat(parent, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC);
				if (ret->fd < 0)
					return -errno;
				ret->layer = i;
				ret->st = st;
			}
			break;
		}
		int fd = open_dir(parent, nm);
		if (fd < 0)
			return -errno;
		next[i] = fd;
		if (ret->layer < 0) {
			ret->layer = i;
			ret->st = st;
		}
		if (uf_layer_dir_is_opaque(&s->fmt, fd) || i + 1 == s->n_lowers)
			break;
		g_autofree char *rd = NULL;
		if (uf_layer_dir_get_redirect(&s->fmt, fd, &rd) < 0)
			break; /* invalid: a lookup fails there */
		if (rd && rd[0] == '/') {
			g_free(abs);
			abs = g_strdup(rd + 1);
		} else if (rd && abs) {
			char *slash = strrchr(abs, '/');
			g_autofree char *old = g_steal_pointer(&abs);
			abs = slash ? g_strdup_printf("%.*s/%s", (int)(slash - old), old, rd)
				    : g_strdup(rd);
		} else if (rd) {
			g_free(name);
			name = g_steal_pointer(&rd);
		}
	}
	return 0;
}

int uf_stack_lookup(const struct uf_stack *s, const char *path, struct uf_stack_obj *ret)
{
	unsigned n = s->n_lowers;
	g_autofree int *cur = g_new(int, n);
	g_autofree int *next = g_new(int, n);
	g_auto(GStrv) comps = g_strsplit(path, "/", -1);
	int r = 0;

	*ret = (struct uf_stack_obj){ .layer = -1, .fd = -1 };
	for (unsigned i = 0; i < n; i++) {
		cur[i] = openat(s->lower_fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cur[i] < 0)
			r = -errno;
	}
	if (r < 0)
		goto out;
	if (!comps[0]) {
		ret->fd = openat(cur[0], ".", O_PATH | O_CLOEXEC);
		if (ret->fd < 0 || fstat(ret->fd, &ret->st) < 0) {
			r = -errno;
			goto out;
		}
		ret->layer = 0;
		goto out;
	}
	for (char **c = comps; *c; c++) {
		struct uf_stack_obj o = { .layer = -1, .fd = -1 };

		r = lookup_component(s, cur, *c, next, &o);
		close_all(cur, n);
		memcpy(cur, next, n * sizeof(*cur));
		if (r < 0) {
			if (o.fd >= 0)
				close(o.fd);
			goto out;
		}
		if (o.layer < 0)
			goto out; /* nothing there */
		if (!c[1]) {
			if (o.fd < 0)
				o.fd = openat(cur[o.layer], ".", O_PATH | O_CLOEXEC);
			if (o.fd < 0) {
				r = -errno;
				goto out;
			}
			*ret = o;
		} else if (!S_ISDIR(o.st.st_mode)) {
			close(o.fd);
			goto out; /* a path through a non-dir */
		}
	}
out:
	close_all(cur, n);
	return r;
}
