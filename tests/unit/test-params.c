/* Unit tests for params.c: the branch-list splitter, the BRANCHES parser and
 * the whole argv parser, table-driven. Pure: touches no file, needs no mount
 * and no root. */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unionfuse/params.h"

#define MAX_PARTS 6
#define MAX_ARGS 10

/* Assert that @arr holds exactly the NULL-terminated list @want. */
static void assert_strv(const GPtrArray *arr, const char *const *want, const char *what)
{
	guint n = 0;

	while (n < MAX_PARTS && want[n])
		n++;
	ck_assert_msg(arr != NULL, "%s: no array", what);
	ck_assert_msg(arr->len == n, "%s: %u parts, want %u", what, arr->len, n);
	for (guint i = 0; i < n; i++)
		ck_assert_msg(strcmp(arr->pdata[i], want[i]) == 0, "%s: part %u is '%s', want '%s'",
			      what, i, (const char *)arr->pdata[i], want[i]);
}

/* A failure must come with a one-line message; a success with none. */
static void assert_msg(int r, const char *msg, const char *must_contain, const char *what)
{
	if (r == 0) {
		ck_assert_msg(msg == NULL, "%s: success but message '%s'", what, msg);
		return;
	}
	ck_assert_msg(msg != NULL && msg[0] != '\0', "%s: failed (%d) without a message", what,
		      r);
	ck_assert_msg(strchr(msg, '\n') == NULL, "%s: message is not one line: '%s'", what, msg);
	if (must_contain)
		ck_assert_msg(strstr(msg, must_contain) != NULL,
			      "%s: message '%s' does not name '%s'", what, msg, must_contain);
}

/* Data-only branches: the kernel's "L1:L2::D1::D2" (top-first) and ours,
 * bottom-first "D2::D1::L2:L1:U". Parts come back top-first. */
START_TEST(test_params_split_layers)
{
	static const struct {
		const char *spec;
		bool bottom_first;
		int r;
		unsigned n_data;
		const char *parts[MAX_PARTS];
	} t[] = {
		{ "a:b", false, 0, 0, { "a", "b" } },
		{ "a::d", false, 0, 1, { "a", "d" } },
		{ "a:b::d1::d2", false, 0, 2, { "a", "b", "d1", "d2" } },
		{ "a\\:\\:b::d", false, 0, 1, { "a::b", "d" } },
		{ "d2::d1::b:a:u", true, 0, 2, { "u", "a", "b", "d1", "d2" } },
		{ "d::a:u", true, 0, 1, { "u", "a", "d" } },
		{ "a:u", true, 0, 0, { "u", "a" } },
		{ "::d", false, -EINVAL, 0, { NULL } },
		{ "a::", false, -EINVAL, 0, { NULL } },
		{ "a:::d", false, -EINVAL, 0, { NULL } },
		{ "a::d1:d2", false, -EINVAL, 0, { NULL } }, /* a plain one after data */
		{ "a::d::", false, -EINVAL, 0, { NULL } },
		{ "d::", true, -EINVAL, 0, { NULL } },
		{ "d1:d2::a:u", true, -EINVAL, 0, { NULL } },
		{ "", false, -EINVAL, 0, { NULL } },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		GPtrArray *parts = NULL;
		unsigned n_data = 99;
		char *msg = NULL;
		int r = uf_params_split_layers(t[i].spec, t[i].bottom_first, &parts, &n_data, &msg);

		ck_assert_msg(r == t[i].r, "split_layers('%s') = %d, want %d", t[i].spec, r,
			      t[i].r);
		assert_msg(r, msg, NULL, t[i].spec);
		if (r == 0) {
			assert_strv(parts, t[i].parts, t[i].spec);
			ck_assert_uint_eq(n_data, t[i].n_data);
			g_ptr_array_unref(parts);
		}
		g_free(msg);
	}
}
END_TEST

START_TEST(test_params_split)
{
	static const struct {
		const char *spec;
		int r;
		const char *parts[MAX_PARTS];
	} t[] = {
		{ "a", 0, { "a" } },
		{ "a:b:c", 0, { "a", "b", "c" } },
		{ "/x/y:/z", 0, { "/x/y", "/z" } },
		{ "a\\:b:c", 0, { "a:b", "c" } },          /* a\:b:c */
		{ "a\\\\:b", 0, { "a\\", "b" } },          /* a\\:b -> "a\" "b" */
		{ "a\\\\\\:b", 0, { "a\\:b" } },           /* a\\\:b -> "a\:b" */
		{ "\\:", 0, { ":" } },
		{ "\\\\", 0, { "\\" } },
		{ "\\:\\::\\\\", 0, { "::", "\\" } },
		{ "a\\b", 0, { "a\\b" } },                 /* other escapes stay */
		{ "a b:c d", 0, { "a b", "c d" } },
		{ "", -EINVAL, { NULL } },
		{ ":", -EINVAL, { NULL } },
		{ ":a", -EINVAL, { NULL } },
		{ "a:", -EINVAL, { NULL } },
		{ "a::b", -EINVAL, { NULL } },
		{ "a:b:", -EINVAL, { NULL } },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		GPtrArray *parts = NULL;
		char *msg = NULL;
		int r = uf_params_split(t[i].spec, &parts, &msg);

		ck_assert_msg(r == t[i].r, "split('%s') = %d, want %d", t[i].spec, r, t[i].r);
		assert_msg(r, msg, NULL, t[i].spec);
		if (r == 0) {
			assert_strv(parts, t[i].parts, t[i].spec);
			g_ptr_array_unref(parts);
		} else {
			ck_assert_msg(parts == NULL, "split('%s') failed but filled parts",
				      t[i].spec);
		}
		g_free(msg);
	}
}
END_TEST

START_TEST(test_params_branches)
{
	static const struct {
		const char *spec;
		int r;
		const char *branches[MAX_PARTS]; /* top-first */
	} t[] = {
		{ "base:updates:upper", 0, { "upper", "updates", "base" } },
		{ "lower:upper", 0, { "upper", "lower" } },
		{ "/l1:/l2:/l3:/up", 0, { "/up", "/l3", "/l2", "/l1" } },
		{ "a\\:b:upper", 0, { "upper", "a:b" } },
		{ "base:up\\\\", 0, { "up\\", "base" } },
		{ "single", -EINVAL, { NULL } },
		{ "a\\:b", -EINVAL, { NULL } }, /* one branch, escaped colon */
		{ "", -EINVAL, { NULL } },
		{ "a::b", -EINVAL, { NULL } },
		{ ":upper", -EINVAL, { NULL } },
		{ "base:", -EINVAL, { NULL } },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		struct uf_config c = { .branches = g_ptr_array_new_with_free_func(g_free) };
		char *msg = NULL;
		int r = uf_params_parse_branches(t[i].spec, &c, &msg);

		ck_assert_msg(r == t[i].r, "parse_branches('%s') = %d, want %d", t[i].spec, r,
			      t[i].r);
		assert_msg(r, msg, NULL, t[i].spec);
		assert_strv(c.branches, t[i].branches, t[i].spec);
		ck_assert_msg(c.has_upper == (r == 0), "parse_branches('%s'): has_upper %d",
			      t[i].spec, c.has_upper);
		g_free(msg);
		uf_config_done(&c);
	}
}
END_TEST

/* Flags in struct uf_config that a case may check. */
enum {
	F_UPPER = 1 << 0,
	F_RO = 1 << 1,
	F_FG = 1 << 2,
	F_DEBUG = 1 << 3,
	F_SINGLE = 1 << 4,
	F_HELP = 1 << 5,
	F_VERSION = 1 << 6,
	F_USERXATTR = 1 << 7,
	F_WRITEBACK = 1 << 8,
};

struct parse_case {
	const char *argv[MAX_ARGS]; /* argv[0] is the program name */
	int r;
	const char *branches[MAX_PARTS]; /* top-first; checked when r == 0 */
	const char *mountpoint;          /* checked when r == 0 and not help/version */
	const char *workdir;             /* NULL: must be unset */
	double timeout;                  /* 0: the default; < 0: exactly 0 */
	unsigned flags;                  /* F_*: must be set ... */
	unsigned care;                   /* ... among these; F_UPPER|F_RO always */
	const char *err;                 /* the message must contain this */
};

static const struct parse_case parse_cases[] = {
	/* BRANCHES MOUNTPOINT */
	{ .argv = { "unionfuse", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .flags = F_UPPER,
	  .care = F_FG | F_DEBUG | F_SINGLE | F_HELP | F_VERSION | F_USERXATTR | F_WRITEBACK },
	{ .argv = { "unionfuse", "base:updates:upper", "/mnt/u" },
	  .branches = { "upper", "updates", "base" }, .mountpoint = "/mnt/u", .flags = F_UPPER },
	{ .argv = { "unionfuse", "a\\:b:up", "/mnt" },
	  .branches = { "up", "a:b" }, .mountpoint = "/mnt", .flags = F_UPPER },
	/* Options may come after the positionals, as mount(8) puts them. */
	{ .argv = { "unionfuse", "base:upper", "/mnt", "-o", "timeout=3" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .timeout = 3.0,
	  .flags = F_UPPER },

	/* overlayfs-style -o lowerdir=,upperdir=,workdir= */
	{ .argv = { "unionfuse", "-o", "lowerdir=A:B,upperdir=U,workdir=W", "/mnt" },
	  .branches = { "U", "A", "B" }, .mountpoint = "/mnt", .workdir = "W",
	  .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "lowerdir=A:B", "-o", "upperdir=U", "-o", "workdir=W",
		    "/mnt" },
	  .branches = { "U", "A", "B" }, .mountpoint = "/mnt", .workdir = "W",
	  .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "lowerdir=A:B", "/mnt" },
	  .branches = { "A", "B" }, .mountpoint = "/mnt" },
	{ .argv = { "unionfuse", "-o", "lowerdir=A", "/mnt" },
	  .branches = { "A" }, .mountpoint = "/mnt" },
	{ .argv = { "unionfuse", "-o", "lowerdir=A\\:1:B", "/mnt" },
	  .branches = { "A:1", "B" }, .mountpoint = "/mnt" },
	/* The kernel's data-only branches after "::" (kept last, top-first). */
	{ .argv = { "unionfuse", "-o", "lowerdir=A::B", "/mnt" },
	  .branches = { "A", "B" }, .mountpoint = "/mnt" },
	{ .argv = { "unionfuse", "-o", "lowerdir=A::B:C", "/mnt" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "-o", "lowerdir=::B", "/mnt" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "-o", "upperdir=U,workdir=W", "/mnt" }, .r = -EINVAL },
	/* Found by fuzz-params: an empty upperdir= became an empty branch. */
	{ .argv = { "unionfuse", "-o", "lowerdir=/a:/b,upperdir=,workdir=/w", "/mnt" }, .r = -EINVAL },
	/* mount(8) style: SOURCE MOUNTPOINT -o ...; the source is ignored. */
	{ .argv = { "unionfuse", "overlay", "/mnt", "-o", "lowerdir=A,upperdir=U,workdir=W" },
	  .branches = { "U", "A" }, .mountpoint = "/mnt", .workdir = "W", .flags = F_UPPER },
	{ .argv = { "unionfuse", "none", "/mnt", "-o",
		    "rw,lowerdir=A:B,upperdir=U,workdir=W,index=off,xino=auto" },
	  .branches = { "U", "A", "B" }, .mountpoint = "/mnt", .workdir = "W",
	  .flags = F_UPPER },

	/* -o ro: no upper, every branch is a lower. */
	{ .argv = { "unionfuse", "-o", "ro", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .flags = F_RO },
	{ .argv = { "unionfuse", "base:mid:top", "/mnt", "-o", "ro" },
	  .branches = { "top", "mid", "base" }, .mountpoint = "/mnt", .flags = F_RO },
	{ .argv = { "unionfuse", "-o", "ro,lowerdir=A:B", "/mnt" },
	  .branches = { "A", "B" }, .mountpoint = "/mnt", .flags = F_RO },
	/* ... and with upperdir= the upper stays in the stack as a lower
	 * (README: "-o ro: every branch is a lower"), as the kernel's ro
	 * overlay still shows its upper. */
	{ .argv = { "unionfuse", "-o", "ro,lowerdir=A:B,upperdir=U,workdir=W", "/mnt" },
	  .branches = { "U", "A", "B" }, .mountpoint = "/mnt", .workdir = "W", .flags = F_RO },

	/* Our own -o options. */
	{ .argv = { "unionfuse", "-o", "timeout=2.5", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .timeout = 2.5,
	  .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "timeout=0", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .timeout = -1.0,
	  .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "timeout=abc", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "abc" },
	{ .argv = { "unionfuse", "-o", "timeout=-1", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "-1" },
	{ .argv = { "unionfuse", "-o", "timeout=1x", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "1x" },
	{ .argv = { "unionfuse", "-o", "timeout=nan", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "nan" },
	{ .argv = { "unionfuse", "-o", "timeout=", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "timeout" },
	{ .argv = { "unionfuse", "-o", "userxattr,writeback", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_USERXATTR | F_WRITEBACK, .care = F_USERXATTR | F_WRITEBACK },
	/* Each flag keeps its own value whatever follows it. */
	{ .argv = { "unionfuse", "-o", "userxattr,ro", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_RO | F_USERXATTR, .care = F_USERXATTR | F_WRITEBACK },
	{ .argv = { "unionfuse", "-o", "writeback", "-o", "rw", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_WRITEBACK, .care = F_USERXATTR | F_WRITEBACK },
	{ .argv = { "unionfuse", "-o", "writeback,nowriteback", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER, .care = F_USERXATTR | F_WRITEBACK },
	/* Options libfuse understands pass. */
	{ .argv = { "unionfuse", "-o", "allow_other,default_permissions,fsname=u",
		    "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .flags = F_UPPER },

	/* Deployments: tmpupper takes only lowers; mount(8)'s options pass. */
	{ .argv = { "unionfuse", "-o", "tmpupper", "base", "/mnt" },
	  .branches = { "base" }, .mountpoint = "/mnt", .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "tmpupper=/var/tmp,tmpupper_size=1g", "a:b", "/mnt" },
	  .r = -EINVAL, .err = "tmpupper_size" },
	{ .argv = { "unionfuse", "-o", "tmpupper,tmpupper_size=50%", "a:b", "/mnt" },
	  .branches = { "b", "a" }, .mountpoint = "/mnt", .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "tmpupper,ro", "base", "/mnt" }, .r = -EINVAL, .err = "ro" },
	{ .argv = { "unionfuse", "-o", "tmpupper,lowerdir=B:A", "none", "/mnt" },
	  .branches = { "B", "A" }, .mountpoint = "/mnt", .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "defaults,nofail,_netdev,noauto,user,x-systemd.automount",
		    "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt", .flags = F_UPPER },
	{ .argv = { "unionfuse", "-o", "idle_timeout=soon", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "idle_timeout" },
	{ .argv = { "unionfuse", "-o", "idle_timeout=5", "base:upper", "/dev/fd/3" },
	  .r = -EINVAL, .err = "/dev/fd/N" },
	{ .argv = { "unionfuse", "-o", "nolock,lock_wait=1", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "nolock" },

	/* Unknown options name themselves. */
	{ .argv = { "unionfuse", "-o", "bogus", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "bogus" },
	{ .argv = { "unionfuse", "-o", "ro,bogus2=1", "base:upper", "/mnt" },
	  .r = -EINVAL, .err = "bogus2" },
	{ .argv = { "unionfuse", "-x", "base:upper", "/mnt" }, .r = -EINVAL, .err = "-x" },
	{ .argv = { "unionfuse", "base:upper", "/mnt", "--frobnicate" },
	  .r = -EINVAL, .err = "--frobnicate" },

	/* Wrong number of positionals, bad branch lists. */
	{ .argv = { "unionfuse" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "base:upper" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "-f", "base:upper" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "-o", "lowerdir=A:B,upperdir=U" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "base:upper", "/mnt", "extra" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "single", "/mnt" }, .r = -EINVAL },
	{ .argv = { "unionfuse", "a::b", "/mnt" }, .r = -EINVAL },

	/* FUSE flags. */
	{ .argv = { "unionfuse", "-f", "-d", "-s", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_FG | F_DEBUG | F_SINGLE, .care = F_FG | F_DEBUG | F_SINGLE },
	{ .argv = { "unionfuse", "-f", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_FG, .care = F_FG | F_DEBUG | F_SINGLE },
	{ .argv = { "unionfuse", "base:upper", "/mnt", "-s" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_SINGLE, .care = F_FG | F_DEBUG | F_SINGLE },
	{ .argv = { "unionfuse", "-d", "base:upper", "/mnt" },
	  .branches = { "upper", "base" }, .mountpoint = "/mnt",
	  .flags = F_UPPER | F_DEBUG, .care = F_DEBUG | F_SINGLE },

	/* -h / -V succeed without branches or mount point. */
	{ .argv = { "unionfuse", "-h" }, .flags = F_HELP, .care = F_HELP },
	{ .argv = { "unionfuse", "--help" }, .flags = F_HELP, .care = F_HELP },
	{ .argv = { "unionfuse", "-h", "base:upper", "/mnt" }, .flags = F_HELP, .care = F_HELP },
	{ .argv = { "unionfuse", "-V" }, .flags = F_VERSION, .care = F_VERSION },
	{ .argv = { "unionfuse", "--version" }, .flags = F_VERSION, .care = F_VERSION },
};

static char *describe(const struct parse_case *t)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (size_t i = 0; i < MAX_ARGS && t->argv[i]; i++)
		g_string_append_printf(s, "%s%s", i ? " " : "", t->argv[i]);
	return g_string_free(g_steal_pointer(&s), FALSE);
}

static void check_flag(unsigned care, unsigned want, unsigned bit, bool have, const char *name,
		       const char *what)
{
	if (!(care & bit))
		return;
	ck_assert_msg(have == !!(want & bit), "'%s': %s is %d, want %d", what, name, have,
		      !!(want & bit));
}

START_TEST(test_params_parse)
{
	const struct parse_case *t = &parse_cases[_i];
	g_autofree char *what = describe(t);
	char **argv = g_new0(char *, MAX_ARGS + 1);
	int argc = 0;
	struct uf_config c;
	char *msg = NULL;

	while (argc < MAX_ARGS && t->argv[argc]) {
		argv[argc] = g_strdup(t->argv[argc]);
		argc++;
	}

	int r = uf_params_parse(argc, argv, &c, &msg);
	ck_assert_msg(r == t->r, "parse '%s' = %d (%s), want %d", what, r, msg ? msg : "-",
		      t->r);
	assert_msg(r, msg, t->err, what);

	if (r == 0) {
		unsigned care = t->care | F_UPPER | F_RO;
		bool info = t->flags & (F_HELP | F_VERSION);

		check_flag(care, t->flags, F_HELP, c.show_help, "show_help", what);
		check_flag(care, t->flags, F_VERSION, c.show_version, "show_version", what);
		check_flag(care, t->flags, F_FG, c.foreground, "foreground", what);
		check_flag(care, t->flags, F_DEBUG, c.debug, "debug", what);
		check_flag(care, t->flags, F_SINGLE, c.single_thread, "single_thread", what);
		check_flag(care, t->flags, F_USERXATTR, c.userxattr, "userxattr", what);
		check_flag(care, t->flags, F_WRITEBACK, c.writeback, "writeback", what);
		if (!info) {
			check_flag(care, t->flags, F_UPPER, c.has_upper, "has_upper", what);
			check_flag(care, t->flags, F_RO, c.read_only, "read_only", what);
			assert_strv(c.branches, t->branches, what);
			ck_assert_msg(c.mountpoint && strcmp(c.mountpoint, t->mountpoint) == 0,
				      "'%s': mountpoint '%s', want '%s'", what,
				      c.mountpoint ? c.mountpoint : "(null)", t->mountpoint);
			if (t->workdir)
				ck_assert_msg(c.workdir && strcmp(c.workdir, t->workdir) == 0,
					      "'%s': workdir '%s', want '%s'", what,
					      c.workdir ? c.workdir : "(null)", t->workdir);
			else
				ck_assert_msg(c.workdir == NULL, "'%s': workdir '%s' set", what,
					      c.workdir);
			double want_timeout = t->timeout == 0.0   ? UF_DEFAULT_TIMEOUT
					      : t->timeout < 0.0 ? 0.0
								  : t->timeout;
			ck_assert_msg(c.timeout == want_timeout, "'%s': timeout %g, want %g", what,
				      c.timeout, want_timeout);
		}
	}

	g_free(msg);
	uf_config_done(&c);
	ck_assert_ptr_null(c.branches);
	g_strfreev(argv);
}
END_TEST

/* Options of the kernel overlayfs and fuse-overlayfs: implemented ones set
 * their field, those describing what we always do are accepted, the rest
 * are refused with a message naming the option. Never silently ignored. */
START_TEST(test_params_compat)
{
	static const struct {
		const char *opts;
		int r;
		const char *err; /* the message contains this */
		bool same;	 /* accepted as what we do anyway: nothing may change */
		int64_t squash_uid, squash_gid;
		int noacl, noxattrs, static_nlink, redirect_off, single, no_allow, allow_given;
	} t[] = {
		{ "noacl", 0, NULL, false, -1, -1, 1, 0, 0, 0, 0, 0, 0 },
		{ "noxattrs=1", 0, NULL, false, -1, -1, 0, 1, 0, 0, 0, 0, 0 },
		{ "noxattrs=0", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "static_nlink", 0, NULL, false, -1, -1, 0, 0, 1, 0, 0, 0, 0 },
		{ "redirect_dir=off", 0, NULL, false, -1, -1, 0, 0, 0, 1, 0, 0, 0 },
		{ "redirect_dir=on", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "redirect_dir=follow", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "threaded=0", 0, NULL, false, -1, -1, 0, 0, 0, 0, 1, 0, 0 },
		{ "threaded=1", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "squash_to_root", 0, NULL, false, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
		{ "squash_to_uid=1000", 0, NULL, false, 1000, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "squash_to_gid=7,squash_to_root", 0, NULL, false, 0, 7, 0, 0, 0, 0, 0, 0, 0 },
		{ "squash_to_uid=4294967294", 0, NULL, false, 4294967294LL, -1, 0, 0, 0, 0, 0, 0, 0 },
		{ "noallow_other", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 1, 0 },
		{ "allow_other", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 1 },
		{ "allow_root", 0, NULL, false, -1, -1, 0, 0, 0, 0, 0, 0, 1 },
		{ .opts = "index=off,xino=on,xino=auto,nfs_export=off,uuid=null,uuid=off,uuid=auto",
		  .same = true },
		{ .opts = "fsync=1,fast_ino=0,verity=off,xattr_permissions=0,noxattrs=0,threaded=1",
		  .same = true },
		{ .opts = "squash_to_uid=-1", .r = -EINVAL, .err = "squash_to_uid=-1" },
		{ .opts = "squash_to_uid=4294967295", .r = -EINVAL, .err = "squash_to_uid" },
		{ .opts = "squash_to_gid=1x", .r = -EINVAL, .err = "squash_to_gid=1x" },
		{ .opts = "squash_to_gid=", .r = -EINVAL, .err = "squash_to_gid" },
		{ .opts = "noallow_other,allow_other", .r = -EINVAL, .err = "noallow_other" },
		{ .opts = "index=on,index=off", .same = true },
		{ .opts = "index=yes", .r = -EINVAL, .err = "index=yes" },
		{ .opts = "nfs_export=on", .r = -EINVAL, .err = "nfs_export=on" },
		{ .opts = "xino=off", .r = -EINVAL, .err = "xino=off" },
		{ .opts = "uuid=on", .r = -EINVAL, .err = "uuid=on" },
		{ .opts = "redirect_dir=nofollow", .r = -EINVAL, .err = "redirect_dir=nofollow" },
		{ .opts = "fsync=2", .r = -EINVAL, .err = "fsync=2" },
		{ .opts = "verity=require", .r = -EINVAL, .err = "verity=require" },
		{ .opts = "fast_ino=1", .r = -EINVAL, .err = "fast_ino=1" },
		{ .opts = "plugins=/lib/x.so", .r = -EINVAL, .err = "plugins=" },
		{ .opts = "uidmapping=0:1000:1", .r = -EINVAL, .err = "uidmapping=" },
		{ .opts = "gidmapping=0:1000:1", .r = -EINVAL, .err = "gidmapping=" },
		{ .opts = "xattr_permissions=2", .r = -EINVAL, .err = "xattr_permissions=2" },
		{ .opts = "metacopy=yes", .r = -EINVAL, .err = "metacopy=yes" },
		{ .opts = "threaded=2", .r = -EINVAL, .err = "threaded=2" },
		{ .opts = "noxattrs=yes", .r = -EINVAL, .err = "noxattrs=yes" },
		{ .opts = "rw,index=2,xino=auto", .r = -EINVAL, .err = "index=2" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		char *argv[] = { g_strdup("unionfuse"), g_strdup("-o"), g_strdup(t[i].opts),
				 g_strdup("base:upper"), g_strdup("/mnt"), NULL };
		struct uf_config c;
		char *msg = NULL;
		int r = uf_params_parse(5, argv, &c, &msg);

		ck_assert_msg(r == t[i].r, "-o %s: %d (%s), want %d", t[i].opts, r,
			      msg ? msg : "-", t[i].r);
		assert_msg(r, msg, t[i].err, t[i].opts);
		if (r == 0 && !t[i].same) {
			ck_assert_msg(c.squash_uid == t[i].squash_uid, "-o %s: squash_uid %lld",
				      t[i].opts, (long long)c.squash_uid);
			ck_assert_msg(c.squash_gid == t[i].squash_gid, "-o %s: squash_gid %lld",
				      t[i].opts, (long long)c.squash_gid);
			ck_assert_msg(c.noacl == t[i].noacl, "-o %s: noacl", t[i].opts);
			ck_assert_msg(c.noxattrs == t[i].noxattrs, "-o %s: noxattrs", t[i].opts);
			ck_assert_msg(c.static_nlink == t[i].static_nlink, "-o %s: static_nlink",
				      t[i].opts);
			ck_assert_msg(c.redirect_off == t[i].redirect_off, "-o %s: redirect_off",
				      t[i].opts);
			ck_assert_msg(c.single_thread == !!t[i].single, "-o %s: single_thread",
				      t[i].opts);
			ck_assert_msg(c.no_allow_other == t[i].no_allow, "-o %s: no_allow_other",
				      t[i].opts);
			ck_assert_msg(c.allow_given == !!t[i].allow_given, "-o %s: allow_given",
				      t[i].opts);
		} else if (r == 0) {
			/* Accepted as what we do anyway: nothing changes. */
			ck_assert_msg(c.squash_uid == -1 && c.squash_gid == -1 && !c.noacl &&
					  !c.noxattrs && !c.static_nlink && !c.redirect_off &&
					  !c.single_thread && !c.no_allow_other && !c.allow_given,
				      "-o %s changed the configuration", t[i].opts);
		}
		g_free(msg);
		uf_config_done(&c);
		for (int k = 0; argv[k]; k++)
			g_free(argv[k]);
	}
}
END_TEST

/* Options whose default is neither given value, and where the last one
 * given wins: -o index=on|off, off by default as the kernel's (its upper
 * then mounts anywhere); -o [no]writeback, off by default; -o spin=, 50 us
 * by default (io.c). Bad spin values are refused. */
START_TEST(test_params_defaults)
{
	static const struct {
		const char *opts;
		int index, writeback, spin;
	} t[] = {
		{ "rw", 0, 0, UF_SPIN_DEFAULT_US },
		{ "index=on", 1, 0, 50 },
		{ "index=on,index=off", 0, 0, 50 },
		{ "index=off,index=on", 1, 0, 50 },
		{ "writeback", 0, 1, 50 },
		{ "nowriteback", 0, 0, 50 },
		{ "writeback=0,writeback", 0, 1, 50 },
		{ "writeback,nowriteback", 0, 0, 50 },
		{ "spin=0", 0, 0, 0 },
		{ "spin=200,spin=10000", 0, 0, 10000 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		char *argv[] = { g_strdup("unionfuse"), g_strdup("-o"), g_strdup(t[i].opts),
				 g_strdup("base:upper"), g_strdup("/mnt"), NULL };
		struct uf_config c;
		char *msg = NULL;

		ck_assert_int_eq(uf_params_parse(5, argv, &c, &msg), 0);
		ck_assert_msg(c.index == t[i].index, "-o %s: index %d", t[i].opts, c.index);
		ck_assert_msg(c.writeback == t[i].writeback, "-o %s: writeback %d", t[i].opts,
			      c.writeback);
		ck_assert_msg(c.spin_us == t[i].spin, "-o %s: spin %d", t[i].opts, c.spin_us);
		g_free(msg);
		uf_config_done(&c);
		for (int k = 0; argv[k]; k++)
			g_free(argv[k]);
	}
	static const char *const bad[] = { "spin=", "spin=-1", "spin=10001", "spin=5us" };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char *argv[] = { g_strdup("unionfuse"), g_strdup("-o"), g_strdup(bad[i]),
				 g_strdup("base:upper"), g_strdup("/mnt"), NULL };
		struct uf_config c;
		char *msg = NULL;

		ck_assert_int_eq(uf_params_parse(5, argv, &c, &msg), -EINVAL);
		ck_assert_msg(msg && strstr(msg, "bad spin"), "-o %s: '%s'", bad[i], msg);
		g_free(msg);
		uf_config_done(&c);
		for (int k = 0; argv[k]; k++)
			g_free(argv[k]);
	}
}
END_TEST

static Suite *params_suite(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_params_split);
	tcase_add_test(tc, test_params_split_layers);
	tcase_add_test(tc, test_params_branches);
	tcase_add_loop_test(tc, test_params_parse, 0, G_N_ELEMENTS(parse_cases));
	tcase_add_test(tc, test_params_compat);
	tcase_add_test(tc, test_params_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(params_suite());

	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
