/* unionfuse diff [--json|-0] [--userxattr] LOWER[:LOWER...]:UPPER: what the
 * upper changes in the union, path by path, against what the lowers show
 * there (unionfuse-diff(8)). Read-only; every name is opened with
 * O_NOFOLLOW below the branch roots, so it never follows a symlink and may
 * run while the branches are mounted.
 *
 *   A  added: nothing in the lowers there (or hidden by an opaque parent)
 *   M  modified: data ("data", "type") and/or metadata ("mode", "owner",
 *      "mtime", "xattrs"); "metacopy" for a metadata-only copy
 *   D  deleted: a whiteout, in the kernel's or the aufs form
 *   O  an opaque directory over something in the lowers
 *   R  a directory (or metacopy file) with a redirect: "renamed from"
 *
 * Directory times are not compared: they change with every entry. Exit
 * status as diff(1): 0 no change, 1 changes, 2 trouble. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "unionfuse/layer/format.h"
#include "unionfuse/layer/stack.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

enum fmt { FMT_TEXT, FMT_JSON, FMT_NUL };

/* Deeper than this the walk stops with an error, rather than run out of
 * fds on an upper nested on purpose. */
#define DIFF_DEPTH_MAX 512

struct diff {
	const struct uf_stack *s;
	enum fmt fmt;
	unsigned n_changes;
	int err; /* the first -errno met */
};

static void emit(struct diff *d, char type, const char *path, const char *extra)
{
	const char *p = *path ? path : ".";

	d->n_changes++;
	switch (d->fmt) {
	case FMT_NUL:
		printf("%c%c%s%c%s%c", type, 0, p, 0, extra ? extra : "", 0);
		break;
	case FMT_JSON:
		printf("%s\n    {\"type\": \"%c\", \"path\": ", d->n_changes > 1 ? "," : "", type);
		uf_tool_print_json_string(stdout, p);
		if (type == 'R') {
			printf(", \"from\": ");
			uf_tool_print_json_string(stdout, extra);
		} else if (type == 'M') {
			g_auto(GStrv) v = g_strsplit(extra, ",", -1);
			printf(", \"details\": [");
			for (char **x = v; *x; x++)
				printf("%s\"%s\"", x == v ? "" : ", ", *x);
			printf("]");
		}
		printf("}");
		break;
	case FMT_TEXT:
		printf("%c ", type);
		uf_tool_print_quoted(stdout, p);
		if (type == 'R') {
			printf(" (renamed from ");
			uf_tool_print_quoted(stdout, extra);
			printf(")");
		} else if (extra && *extra) {
			printf(" (%s)", extra);
		}
		printf("\n");
		break;
	}
}

static void fail(struct diff *d, const char *path, int r)
{
	fprintf(stderr, "unionfuse diff: '%s': %s\n", *path ? path : ".", g_strerror(-r));
	if (!d->err)
		d->err = r;
}

/* Reopen O_PATH @fd for reading: /proc/self/fd/N, no name involved. */
static int reopen(int fd, int flags)
{
	char buf[UF_PROC_FD_MAX];

	return uf_neg_errno(open(uf_proc_fd(buf, fd), flags | O_CLOEXEC));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries in the order of the names they stand for: ".wh.NAME" as NAME. */
static int cmp_entries(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b, *tx = x, *ty = y;

	uf_wh_name_parse(x, &tx);
	uf_wh_name_parse(y, &ty);
	int r = strcmp(tx, ty);
	return r ? r : strcmp(x, y);
}

/* The xattrs of O_PATH @fd but the format's private ones, "name=value\n"
 * sorted, in a new string; NULL when they cannot be read. */
static char *xattr_set(const struct uf_stack *s, int fd)
{
	char buf[UF_PROC_FD_MAX];
	struct uf_xobj o = { .fd = -1, .path = uf_proc_fd(buf, fd), .follow = true };
	g_autofree char *names = NULL;
	ssize_t n = uf_xlist_all(&o, &names);

	if (n == -ENOTSUP || n == 0)
		return g_strdup("");
	if (n < 0)
		return NULL;
	g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func(g_free);
	for (char *name = names; name < names + n; name += strlen(name) + 1) {
		if (uf_is_private_xattr(s->fmt.prefix, name))
			continue;
		ssize_t vn = uf_xget(&o, name, NULL, 0);
		g_autofree char *val = g_malloc(vn > 0 ? vn : 1);
		if (vn > 0)
			vn = uf_xget(&o, name, val, vn);
		g_autofree char *esc = vn > 0 ? g_base64_encode((guchar *)val, vn) : g_strdup("");
		g_ptr_array_add(v, g_strdup_printf("%s=%s", name, esc));
	}
	g_ptr_array_sort(v, cmp_names);
	g_ptr_array_add(v, NULL);
	return g_strjoinv("\n", (char **)v->pdata);
}

/* Do regular files @a and @b (O_PATH) hold the same bytes? 1, 0 or -errno. */
static int same_content(int a, int b)
{
	_cleanup_close_ int fa = reopen(a, O_RDONLY);
	_cleanup_close_ int fb = reopen(b, O_RDONLY);
	char ba[65536], bb[65536];

	if (fa < 0)
		return fa;
	if (fb < 0)
		return fb;
	for (;;) {
		ssize_t na = read(fa, ba, sizeof(ba));
		if (na < 0)
			return -errno;
		ssize_t nb = na ? read(fb, bb, na) : read(fb, bb, 1);
		if (nb < 0)
			return -errno;
		if (na != nb || memcmp(ba, bb, na) != 0)
			return 0;
		if (na == 0)
			return 1;
	}
}

/* Does symlink @a (O_PATH) point where @b does? 1, 0 or -errno. */
static int same_target(int a, int b)
{
	char ta[4097], tb[4097];
	ssize_t na = readlinkat(a, "", ta, sizeof(ta));
	ssize_t nb = readlinkat(b, "", tb, sizeof(tb));

	if (na < 0 || nb < 0)
		return -errno;
	return na == nb && memcmp(ta, tb, na) == 0;
}

/* What differs between upper object @ufd/@ust and lower @lo: a
 * comma-separated list, "" when nothing. */
static char *compare(struct diff *d, const char *path, int ufd, const struct stat *ust,
		     const struct uf_stack_obj *lo, bool metacopy)
{
	g_autoptr(GPtrArray) what = g_ptr_array_new();
	const struct stat *lst = &lo->st;
	int r = 1;

	if ((ust->st_mode & S_IFMT) != (lst->st_mode & S_IFMT)) {
		g_ptr_array_add(what, "type");
	} else if (metacopy) {
		g_ptr_array_add(what, "metacopy");
	} else if (S_ISREG(ust->st_mode)) {
		r = ust->st_size == lst->st_size ? same_content(ufd, lo->fd) : 0;
	} else if (S_ISLNK(ust->st_mode)) {
		r = same_target(ufd, lo->fd);
	} else if (S_ISCHR(ust->st_mode) || S_ISBLK(ust->st_mode)) {
		r = ust->st_rdev == lst->st_rdev;
	}
	if (r < 0)
		fail(d, path, r);
	else if (r == 0)
		g_ptr_array_add(what, "data");
	if ((ust->st_mode & 07777) != (lst->st_mode & 07777))
		g_ptr_array_add(what, "mode");
	if (ust->st_uid != lst->st_uid || ust->st_gid != lst->st_gid)
		g_ptr_array_add(what, "owner");
	if (!S_ISDIR(ust->st_mode) && (ust->st_mtim.tv_sec != lst->st_mtim.tv_sec ||
				       ust->st_mtim.tv_nsec != lst->st_mtim.tv_nsec))
		g_ptr_array_add(what, "mtime");
	g_autofree char *ux = xattr_set(d->s, ufd);
	g_autofree char *lx = xattr_set(d->s, lo->fd);
	if (!ux || !lx || strcmp(ux, lx) != 0)
		g_ptr_array_add(what, "xattrs");
	g_ptr_array_add(what, NULL);
	return g_strjoinv(",", (char **)what->pdata);
}

static void walk(struct diff *d, int dfd, const char *upath, const char *lpath, int depth);

/* What the lowers show at @lpath (none when @lpath is NULL). */
static int lookup(struct diff *d, const char *lpath, struct uf_stack_obj *ret)
{
	*ret = (struct uf_stack_obj){ .layer = -1, .fd = -1 };
	if (!lpath)
		return 0;
	return uf_stack_lookup(d->s, lpath, ret);
}

/* Upper directory @name of @dfd at union path @path; @lpath is the lower
 * path of that name (NULL: nothing below). @path "" is the root. */
static void one_dir(struct diff *d, int dfd, const char *name, const char *path, const char *lpath,
		    int depth)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int pfd = -1;
	struct uf_stack_obj under, src;
	g_autofree char *rd = NULL;
	g_autofree char *from = NULL;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(d, path, -errno);
	r = lookup(d, lpath, &under);
	if (r < 0)
		return fail(d, path, r);
	_cleanup_close_ int underfd = under.fd;
	if (uf_layer_dir_is_opaque(&d->s->fmt, fd)) {
		emit(d, under.layer >= 0 ? 'O' : 'A', path, NULL);
		return walk(d, fd, path, NULL, depth + 1);
	}
	r = *path ? uf_layer_dir_get_redirect(&d->s->fmt, fd, &rd) : 0;
	if (r < 0) {
		/* The union fails a lookup here (-ENAMETOOLONG: shows no
		 * lower content); unionfuse check reports it. */
		fprintf(stderr, "unionfuse diff: '%s': invalid redirect: %s\n", path,
			g_strerror(-r));
		emit(d, 'A', path, NULL);
		return walk(d, fd, path, NULL, depth + 1);
	}
	if (rd) {
		from = uf_tool_redirect_source(lpath, rd);
		r = lookup(d, from, &src);
		if (r < 0)
			return fail(d, path, r);
		_cleanup_close_ int srcfd = src.fd;
		emit(d, 'R', path, from ? from : rd);
		return walk(d, fd, path, src.layer >= 0 && S_ISDIR(src.st.st_mode) ? from : NULL,
			    depth + 1);
	}
	if (under.layer < 0) {
		emit(d, 'A', path, NULL);
		return walk(d, fd, path, NULL, depth + 1);
	}
	pfd = openat(fd, ".", O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return fail(d, path, -errno);
	g_autofree char *what = compare(d, path, pfd, &st, &under, false);
	if (*what)
		emit(d, 'M', path, what);
	walk(d, fd, path, S_ISDIR(under.st.st_mode) ? lpath : NULL, depth + 1);
}

/* Upper non-directory @name of @dfd (@st), at union path @path. */
static void one_file(struct diff *d, int dfd, const char *name, const struct stat *st,
		     const char *path, const char *lpath)
{
	_cleanup_close_ int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	g_autofree char *at = uf_at_path(dfd, name);
	g_autofree char *from = NULL;
	g_autofree char *rd = NULL;
	struct uf_stack_obj lo;
	char rbuf[UF_REDIRECT_MAX + 1];
	int r;

	if (fd < 0)
		return fail(d, path, -errno);
	int mc = S_ISREG(st->st_mode) ? uf_layer_file_get_metacopy(&d->s->fmt, at) : 0;
	if (mc < 0)
		return fail(d, path, mc);
	/* A metacopy file renamed has a redirect to its data, as the kernel
	 * writes one (redirect.c). */
	ssize_t n = mc ? lgetxattr(at, d->s->fmt.redirect, rbuf, sizeof(rbuf) - 1) : -1;
	if (n > 0 && uf_redirect_parse(rbuf, n, d->s->fmt.name_max, &rd) == 0)
		from = uf_tool_redirect_source(lpath, rd);
	r = lookup(d, from ? from : lpath, &lo);
	if (r < 0)
		return fail(d, path, r);
	_cleanup_close_ int lofd = lo.fd;
	if (from)
		emit(d, 'R', path, from);
	if (lo.layer < 0) {
		if (!from)
			emit(d, 'A', path, NULL);
		return;
	}
	g_autofree char *what = compare(d, path, fd, st, &lo, mc > 0);
	if (*what)
		emit(d, 'M', path, what);
}

/* The entries of upper dir @dfd at union path @upath; @lpath: the lower
 * path merged there, NULL when nothing is. */
static void walk(struct diff *d, int dfd, const char *upath, const char *lpath, int depth)
{
	g_autoptr(GPtrArray) names = NULL;

	if (depth > DIFF_DEPTH_MAX)
		return fail(d, upath, -ELOOP);
	int r = uf_tool_list_dir(dfd, cmp_entries, &names);
	if (r < 0)
		return fail(d, upath, r);

	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i], *target = NULL;
		g_autofree char *path = uf_tool_join(upath, name);
		g_autofree char *lp = lpath ? uf_tool_join(lpath, name) : NULL;
		struct stat st;

		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				fail(d, path, -errno);
			continue;
		}
		enum uf_wh_name k = uf_wh_name_parse(name, &target);
		if (k == UF_WH_TARGET) {
			g_autofree char *tpath = uf_tool_join(upath, target);
			g_autofree char *tlp = lpath ? uf_tool_join(lpath, target) : NULL;
			struct uf_stack_obj lo;
			struct stat tst;
			/* Only a regular file whites out; an upper entry of
			 * that name shows instead (and is diffed as added). */
			if (!uf_format_is_aufs_whiteout(&st) ||
			    fstatat(dfd, target, &tst, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			if (lookup(d, tlp, &lo) < 0)
				continue;
			if (lo.layer >= 0) {
				close(lo.fd);
				emit(d, 'D', tpath, NULL);
			}
			continue;
		}
		if (k != UF_WH_NONE)
			continue; /* the opaque marker, temporaries, aufs's own */
		if (lpath && uf_has_aufs_whiteout(dfd, name))
			g_clear_pointer(&lp, g_free);
		if (uf_format_is_whiteout(&st)) {
			struct uf_stack_obj lo;
			if (lookup(d, lp, &lo) < 0)
				continue;
			if (lo.layer >= 0) {
				close(lo.fd);
				emit(d, 'D', path, NULL);
			}
		} else if (S_ISDIR(st.st_mode)) {
			one_dir(d, dfd, name, path, lp, depth);
		} else {
			one_file(d, dfd, name, &st, path, lp);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: unionfuse diff [--json|-0] [--userxattr] LOWER[:LOWER...]:UPPER\n"
		   "\n"
		   "What UPPER changes in the union over the LOWERs (bottom first), one line\n"
		   "per path: A added, M modified, D deleted, O opaque dir, R renamed.\n"
		   "\n"
		   "    --json        one JSON document\n"
		   "    -0            NUL-separated records: TYPE, PATH, EXTRA\n"
		   "    --userxattr   the format is in user.overlay.* (default as root:\n"
		   "                  trusted.overlay.*)\n"
		   "    -h, --help    this help\n");
}

int uf_tool_diff(int argc, char **argv)
{
	struct diff d = { .fmt = FMT_TEXT };
	struct uf_stack s;
	bool userxattr = false;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			d.fmt = FMT_JSON;
		} else if (strcmp(argv[i], "-0") == 0 || strcmp(argv[i], "--null") == 0) {
			d.fmt = FMT_NUL;
		} else if (strcmp(argv[i], "--userxattr") == 0) {
			userxattr = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "unionfuse diff: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i != argc - 1) {
		fprintf(stderr, "unionfuse diff: give one LOWER[:LOWER...]:UPPER\n");
		usage(stderr);
		return 2;
	}
	if (uf_tool_open_stack("diff", argv[i], userxattr, &s) < 0) {
		uf_stack_done(&s);
		return 2;
	}
	d.s = &s;
	if (d.fmt == FMT_JSON) {
		printf("{\n  \"upper\": ");
		uf_tool_print_json_string(stdout, s.upper_path);
		printf(",\n  \"lowers\": [");
		for (unsigned l = s.n_lowers; l > 0; l--) {
			printf("%s", l == s.n_lowers ? "" : ", ");
			uf_tool_print_json_string(stdout, s.lower_paths[l - 1]);
		}
		printf("],\n  \"changes\": [");
	}
	/* The root: its metadata, or an opaque root. */
	one_dir(&d, s.upper_fd, ".", "", "", 0);
	if (d.fmt == FMT_JSON)
		printf("%s]\n}\n", d.n_changes ? "\n  " : "");
	uf_stack_done(&s);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 2;
	return d.err ? 2 : d.n_changes ? 1 : 0;
}
