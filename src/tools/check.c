/* unionfuse check [--repair] [--userxattr] LOWER[:LOWER...]:UPPER: what a
 * crash or a hand edit can leave in an upper (unionfuse-check(8)), one line
 * per problem, "KIND PATH: WHAT":
 *
 *   temporary          a copy-up or removal temporary (.wh..wh.uf-tmp.*)
 *   whiteout-type      a ".wh." name that is not a regular file: hides nothing
 *   redirect-invalid   an overlay.redirect the parser refuses (lookups fail)
 *   redirect-dangling  a redirect to nothing in the lowers
 *   redirect-loop      a redirect to an ancestor or a descendant of the dir
 *   metacopy-invalid   an overlay.metacopy value the parser refuses (EIO)
 *   metacopy-nodata    a metacopy file with no lower file to take data from
 *
 * With --workdir, the inode index (-o index=on) in WORKDIR/index too:
 *
 *   index-name         an entry whose overlay.origin is missing, invalid, or
 *                      not what its name says (the hex of that origin)
 *   index-nlink        an entry with an invalid overlay.nlink
 *   index-orphan       an entry no name of the union shows any more
 *
 * --repair fixes what can be fixed without losing what the union shows:
 * temporaries are removed (never visible; the upper is locked, so no daemon
 * is making them); an invalid or dangling redirect becomes an opaque dir
 * (the same view: the upper part alone; an invalid one was an error). The
 * rest is reported and left: a wrong-type ".wh." entry may hold data, a
 * loop still shows lower content, a metacopy file's data is gone. An orphan
 * index entry is removed (the kernel removes them at mount); a misnamed one
 * is left: neither the kernel nor the daemon uses it.
 *
 * Refused while a mount uses the upper: every daemon holds flock(LOCK_EX)
 * on its upper (super.c); this takes it too, for its whole run. Exit status
 * as fsck(8), or'ed: 0 clean, 1 problems corrected, 4 problems left,
 * 8 operational error, 16 usage. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/layer/format.h"
#include "unionfuse/layer/origin.h"
#include "unionfuse/layer/stack.h"
#include "unionfuse/layer/temp.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

#define EXIT_CORRECTED 1
#define EXIT_UNCORRECTED 4
#define EXIT_OPERATIONAL 8
#define EXIT_USAGE 16

#define CHECK_DEPTH_MAX 512

struct check {
	const struct uf_stack *s;
	bool repair;
	bool tmp_only; /* repair temporaries only (for merge) */
	unsigned found, repaired;
	int status;
};

/* Report problem @kind at @path; @fix is what --repair does (NULL: it is
 * left), run when repairing. */
static void problem(struct check *c, const char *kind, const char *path, const char *what,
		    int (*fix)(struct check *c, int dfd, const char *name), int dfd,
		    const char *name, const char *fixed)
{
	c->found++;
	printf("%s ", kind);
	uf_tool_print_quoted(stdout, path);
	printf(": %s", what);
	if (!c->repair) {
		printf("\n");
		c->status |= EXIT_UNCORRECTED;
		return;
	}
	if (!fix || (c->tmp_only && strcmp(kind, "temporary") != 0)) {
		printf(" [left]\n");
		c->status |= EXIT_UNCORRECTED;
		return;
	}
	int r = fix(c, dfd, name);
	if (r < 0) {
		printf(" [repair failed: %s]\n", g_strerror(-r));
		c->status |= EXIT_UNCORRECTED;
		return;
	}
	printf(" [%s]\n", fixed);
	c->repaired++;
	c->status |= EXIT_CORRECTED;
}

static void oops(struct check *c, const char *path, int r)
{
	fprintf(stderr, "unionfuse check: '%s': %s\n", *path ? path : ".", g_strerror(-r));
	c->status |= EXIT_OPERATIONAL;
}

static int fix_remove(struct check *c, int dfd, const char *name)
{
	(void)c;
	return uf_remove_tree(dfd, name);
}

/* Opaque first, then the redirect goes: a crash in between leaves an
 * opaque dir, whose redirect nobody follows. */
static int fix_opaque(struct check *c, int dfd, const char *name)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = uf_layer_dir_set_opaque(&c->s->fmt, fd);
	if (r == 0)
		r = uf_neg_errno(fremovexattr(fd, c->s->fmt.redirect));
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	return r;
}

/* Is @a an ancestor or a descendant of @b? (Paths without a leading '/'.)
 * Not @b itself: a dir renamed back to its name keeps a redirect to it,
 * which is harmless. */
static bool on_one_line(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), n = MIN(na, nb);

	if (na == nb || strncmp(a, b, n) != 0)
		return false;
	return (na < nb ? b[na] : a[nb]) == '/';
}

/* Is there a @want_dir (else a regular file) at @lpath in the lowers?
 * 1, 0 or -errno. */
static int lower_has(struct check *c, const char *lpath, bool want_dir)
{
	struct uf_stack_obj o;

	if (!lpath)
		return 0;
	int r = uf_stack_lookup(c->s, lpath, &o);
	if (r < 0)
		return r;
	if (o.fd >= 0)
		close(o.fd);
	if (o.layer < 0)
		return 0;
	return want_dir ? S_ISDIR(o.st.st_mode) : S_ISREG(o.st.st_mode);
}

static void walk(struct check *c, int dfd, const char *upath, const char *lpath, int depth);

static void check_dir(struct check *c, int dfd, const char *name, const char *path,
		      const char *lpath, int depth)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	g_autofree char *rd = NULL;
	g_autofree char *src = NULL;

	if (fd < 0)
		return oops(c, path, -errno);
	if (uf_layer_dir_is_opaque(&c->s->fmt, fd))
		return walk(c, fd, path, NULL, depth + 1);
	int r = uf_layer_dir_get_redirect(&c->s->fmt, fd, &rd);
	if (r == -EINVAL || r == -EACCES || r == -ENAMETOOLONG) {
		g_autofree char *what =
		    g_strdup_printf("invalid overlay.redirect (%s)", g_strerror(-r));
		problem(c, "redirect-invalid", path, what, fix_opaque, dfd, name, "made opaque");
		return walk(c, fd, path, NULL, depth + 1);
	}
	if (r < 0)
		return oops(c, path, r);
	if (!rd)
		return walk(c, fd, path, lpath, depth + 1);

	src = uf_tool_redirect_source(lpath, rd);
	g_autofree char *what = NULL;
	if (src && on_one_line(src, path)) {
		what = g_strdup_printf("redirect to '%s', its own ancestor or descendant", rd);
		problem(c, "redirect-loop", path, what, NULL, dfd, name, NULL);
		return walk(c, fd, path, src, depth + 1);
	}
	r = lower_has(c, src, true);
	if (r < 0)
		return oops(c, path, r);
	if (r == 0) {
		what = g_strdup_printf("redirect to '%s': no directory there in the lowers", rd);
		problem(c, "redirect-dangling", path, what, fix_opaque, dfd, name, "made opaque");
		return walk(c, fd, path, NULL, depth + 1);
	}
	walk(c, fd, path, src, depth + 1);
}

static void check_file(struct check *c, int dfd, const char *name, const char *path,
		       const char *lpath)
{
	g_autofree char *at = uf_at_path(dfd, name);
	g_autofree char *rd = NULL;
	g_autofree char *src = NULL;
	char rbuf[UF_REDIRECT_MAX + 1];

	int mc = uf_layer_file_get_metacopy(&c->s->fmt, at);
	if (mc == -EIO) {
		problem(c, "metacopy-invalid", path, "invalid overlay.metacopy (reads fail)", NULL,
			dfd, name, NULL);
		return;
	}
	if (mc < 0)
		return oops(c, path, mc);
	if (mc == 0)
		return;
	ssize_t n = lgetxattr(at, c->s->fmt.redirect, rbuf, sizeof(rbuf) - 1);
	if (n > 0 && uf_redirect_parse(rbuf, n, c->s->fmt.name_max, &rd) == 0)
		src = uf_tool_redirect_source(lpath, rd);
	int r = lower_has(c, src ? src : lpath, false);
	if (r < 0)
		return oops(c, path, r);
	if (r == 0)
		problem(c, "metacopy-nodata", path,
			"metadata-only copy without a lower file holding its data", NULL, dfd, name,
			NULL);
}

static void walk(struct check *c, int dfd, const char *upath, const char *lpath, int depth)
{
	g_autoptr(GPtrArray) names = NULL;

	if (depth > CHECK_DEPTH_MAX)
		return oops(c, upath, -ELOOP);
	int r = uf_tool_list_dir(dfd, NULL, &names);
	if (r < 0)
		return oops(c, upath, r);

	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *path = uf_tool_join(upath, name);
		g_autofree char *lp = lpath ? uf_tool_join(lpath, name) : NULL;
		struct stat st;

		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			oops(c, path, -errno);
			continue;
		}
		if (g_str_has_prefix(name, UF_TMP_PREFIX)) {
			problem(c, "temporary", path, "left by a daemon that died", fix_remove, dfd,
				name, "removed");
			continue;
		}
		enum uf_wh_name k = uf_wh_name_parse(name, NULL);
		if (k == UF_WH_TARGET || k == UF_WH_OPQ) {
			if (!uf_format_is_aufs_whiteout(&st))
				problem(c, "whiteout-type", path,
					"not a regular file: it whites out nothing", NULL, dfd,
					name, NULL);
			continue;
		}
		if (k != UF_WH_NONE)
			continue; /* aufs's own names */
		if (uf_has_aufs_whiteout(dfd, name))
			g_clear_pointer(&lp, g_free);
		if (S_ISDIR(st.st_mode))
			check_dir(c, dfd, name, path, lp, depth);
		else if (S_ISREG(st.st_mode))
			check_file(c, dfd, name, path, lp);
	}
}

unsigned uf_check_for_merge(const struct uf_stack *s)
{
	struct check c = { .s = s, .repair = true, .tmp_only = true };

	walk(&c, s->upper_fd, "", "", 0);
	return c.found - c.repaired + !!(c.status & EXIT_OPERATIONAL);
}

/* One entry @name of WORKDIR/index (@dfd), as the kernel's
 * ovl_verify_index() reads it: named by the hex of its own origin, with a
 * union link count from overlay.nlink that still counts a name. */
static void check_index_entry(struct check *c, int dfd, const char *name, const struct stat *st)
{
	g_autofree char *path = uf_tool_join("index", name);
	g_autofree char *at = g_strdup_printf("/proc/self/fd/%d/%s", dfd, name);
	g_autofree char *xorigin = g_strconcat(c->s->fmt.prefix, "origin", NULL);
	g_autofree char *xnlink = g_strconcat(c->s->fmt.prefix, "nlink", NULL);
	uint8_t v[UF_ORIGIN_MAX + 1];
	char hex[UF_INDEX_NAME_MAX], nl[UF_NLINK_MAX], base;
	int diff = 0;

	if (!S_ISREG(st->st_mode))
		return; /* directories and whiteouts: the kernel's own (nfs_export) */
	ssize_t n = lgetxattr(at, xorigin, v, sizeof(v));
	if (n <= 0 || uf_origin_parse(v, n, NULL) < 0) {
		problem(c, "index-name", path, "no valid overlay.origin", NULL, dfd, name, NULL);
		return;
	}
	uf_index_name(v, v[2], hex);
	if (strcmp(hex, name) != 0) {
		problem(c, "index-name", path, "its overlay.origin is not its name", NULL, dfd,
			name, NULL);
		return;
	}
	n = lgetxattr(at, xnlink, nl, sizeof(nl));
	if (n >= 0 && uf_nlink_parse(nl, n, &base, &diff) < 0) {
		problem(c, "index-nlink", path, "invalid overlay.nlink", NULL, dfd, name, NULL);
		return;
	}
	/* Linked by no upper name, and counting no lower one (the kernel's
	 * test: no overlay.nlink, or a union count of 0 left by a crash
	 * between the last unlink and the entry's removal). */
	if (st->st_nlink == 1 && (n < 0 || (base == 'U' && 1 + diff <= 0)))
		problem(c, "index-orphan", path, "no name of the union shows it", fix_remove, dfd,
			name, "removed");
}

static void check_index(struct check *c, const char *workdir)
{
	g_autoptr(GPtrArray) names = NULL;
	_cleanup_close_ int wfd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dfd = -1;
	struct stat st;

	if (wfd < 0)
		return oops(c, workdir, -errno);
	dfd = openat(wfd, "index", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT)
			oops(c, "index", -errno);
		return; /* never mounted with index=on */
	}
	int r = uf_tool_list_dir(dfd, NULL, &names);
	if (r < 0)
		return oops(c, "index", r);
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			oops(c, name, -errno);
		else
			check_index_entry(c, dfd, name, &st);
	}
}

/* Lock the upper as a daemon does (super.c): a mount just unmounted may
 * still be tearing down, so give it five seconds. Returns 0 or -1 (errno). */
static int lock_upper(int fd)
{
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || i == 100)
			return -1;
		g_usleep(50 * 1000);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: unionfuse check [--repair] [--userxattr] [--workdir DIR] "
		   "LOWER[:LOWER...]:UPPER\n"
		   "\n"
		   "Find what a crash or a hand edit left in UPPER: temporaries, whiteouts of\n"
		   "the wrong type, invalid, dangling or looping redirects, metacopy files\n"
		   "without data; with --workdir, the inode index of -o index=on too.\n"
		   "Refused while a mount uses UPPER.\n"
		   "\n"
		   "    -r, --repair  fix what is safe to fix, and say what was done\n"
		   "    --userxattr   the format is in user.overlay.* (default as root:\n"
		   "                  trusted.overlay.*)\n"
		   "    --workdir DIR the mount's workdir: check its index/ too\n"
		   "    -h, --help    this help\n"
		   "\n"
		   "Exit status (or'ed, as fsck): 0 clean, 1 corrected, 4 left uncorrected,\n"
		   "8 operational error, 16 usage.\n");
}

int uf_tool_check(int argc, char **argv)
{
	struct check c = { 0 };
	struct uf_stack s;
	bool userxattr = false;
	const char *workdir = NULL;
	struct stat st;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-r") == 0 || strcmp(argv[i], "--repair") == 0) {
			c.repair = true;
		} else if (strcmp(argv[i], "--userxattr") == 0) {
			userxattr = true;
		} else if (strcmp(argv[i], "--workdir") == 0 && i + 1 < argc) {
			workdir = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "unionfuse check: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i != argc - 1) {
		fprintf(stderr, "unionfuse check: give one LOWER[:LOWER...]:UPPER\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (uf_tool_open_stack("check", argv[i], userxattr, &s) < 0) {
		uf_stack_done(&s);
		return EXIT_OPERATIONAL;
	}
	c.s = &s;
	/* Held until we exit: a mount starting meanwhile waits, then fails. */
	if (lock_upper(s.upper_fd) < 0) {
		int e = errno;
		g_autofree char *who = NULL;
		if (e == EWOULDBLOCK && fstat(s.upper_fd, &st) == 0)
			who = uf_lock_holders(st.st_dev, st.st_ino, false);
		if (e == EWOULDBLOCK)
			fprintf(stderr,
				"unionfuse check: upper '%s' is in use by %s: unmount it first\n",
				s.upper_path, who ? who : "another process");
		else
			fprintf(stderr, "unionfuse check: cannot lock upper '%s': %s\n",
				s.upper_path, g_strerror(e));
		uf_stack_done(&s);
		return EXIT_OPERATIONAL;
	}
	walk(&c, s.upper_fd, "", "", 0);
	if (workdir)
		check_index(&c, workdir);
	if (c.found)
		printf("%u problem%s, %u repaired\n", c.found, c.found == 1 ? "" : "s", c.repaired);
	uf_stack_done(&s);
	if (fflush(stdout) != 0)
		c.status |= EXIT_OPERATIONAL;
	return c.status;
}
