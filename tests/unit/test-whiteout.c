/* Unit tests for whiteout.c: char-0/0 whiteouts, the aufs ".wh." names,
 * private xattr names, and the opaque/redirect xattrs on plain tmpdir
 * branches. No mount; the cases that need root (mknod of a 0/0 device) are
 * skipped without it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unionfuse/params.h"
#include "unionfuse/super.h"
#include "unionfuse/types.h"
#include "unionfuse/whiteout.h"

/* Made by main() in the parent process and removed by it after the run,
 * so a test that fails half way (Check _exit()s its child) leaves nothing. */
static char *test_base;

/* A union of two tmpdir branches, "upper" over "lower". */
struct fixture {
	char *tmp;
	char *upper;
	char *lower;
	int upper_fd;
	struct uf_fs *fs;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -errno : 0;
}

static void fixture_setup(struct fixture *f, bool userxattr)
{
	struct uf_config c = {
		.branches = g_ptr_array_new_with_free_func(g_free),
		.has_upper = true,
		.timeout = 1,
		.userxattr = userxattr,
	};
	char *msg = NULL;

	f->tmp = g_build_filename(test_base, "XXXXXX", NULL);
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	f->upper = g_build_filename(f->tmp, "upper", NULL);
	f->lower = g_build_filename(f->tmp, "lower", NULL);
	ck_assert_int_eq(mkdir(f->upper, 0755), 0);
	ck_assert_int_eq(mkdir(f->lower, 0755), 0);
	g_ptr_array_add(c.branches, g_strdup(f->upper)); /* top-first */
	g_ptr_array_add(c.branches, g_strdup(f->lower));

	int r = uf_fs_new(&c, &f->fs, &msg);
	ck_assert_msg(r == 0, "uf_fs_new: %d %s", r, msg ? msg : "");
	uf_config_done(&c);

	f->upper_fd = open(f->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(f->upper_fd, 0);
}

static void fixture_teardown(struct fixture *f)
{
	close(f->upper_fd);
	uf_fs_free(f->fs);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(f->tmp);
	g_free(f->upper);
	g_free(f->lower);
}

/* Make directory @name under @dirfd and open it. */
static int mkdir_open(int dirfd, const char *name)
{
	ck_assert_int_eq(mkdirat(dirfd, name, 0755), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void touch(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "create '%s': %s", name, g_strerror(errno));
	close(fd);
}

START_TEST(test_is_whiteout_synthetic)
{
	static const struct {
		mode_t mode;
		unsigned maj, min;
		bool wh;
	} t[] = {
		{ S_IFCHR | 0000, 0, 0, true },
		{ S_IFCHR | 0644, 0, 0, true },  /* the mode bits don't matter */
		{ S_IFCHR | 0666, 1, 3, false }, /* /dev/null */
		{ S_IFCHR, 0, 1, false },
		{ S_IFCHR, 1, 0, false },
		{ S_IFBLK, 0, 0, false },
		{ S_IFREG | 0644, 0, 0, false },
		{ S_IFDIR | 0755, 0, 0, false },
		{ S_IFIFO | 0644, 0, 0, false },
		{ S_IFLNK | 0777, 0, 0, false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		struct stat st = { .st_mode = t[i].mode, .st_rdev = makedev(t[i].maj, t[i].min) };
		ck_assert_msg(uf_is_whiteout(&st) == t[i].wh, "case %zu: mode %o %u/%u", i,
			      (unsigned)t[i].mode, t[i].maj, t[i].min);
	}
}
END_TEST

START_TEST(test_is_whiteout_real)
{
	struct fixture f;
	struct stat st;

	fixture_setup(&f, false);

	touch(f.upper_fd, "regular");
	ck_assert_int_eq(fstatat(f.upper_fd, "regular", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(!uf_is_whiteout(&st));

	ck_assert_int_eq(mkfifoat(f.upper_fd, "fifo", 0644), 0);
	ck_assert_int_eq(fstatat(f.upper_fd, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(!uf_is_whiteout(&st));

	ck_assert_int_eq(fstatat(f.upper_fd, ".", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(!uf_is_whiteout(&st));

	if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode))
		ck_assert(!uf_is_whiteout(&st)); /* char 1/3 */

	if (geteuid() == 0) {
		ck_assert_int_eq(mknodat(f.upper_fd, "wh", S_IFCHR | 0000, makedev(0, 0)), 0);
		ck_assert_int_eq(fstatat(f.upper_fd, "wh", &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(uf_is_whiteout(&st));
		ck_assert_int_eq(mknodat(f.upper_fd, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
		ck_assert_int_eq(fstatat(f.upper_fd, "null", &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(!uf_is_whiteout(&st));
	} else {
		fprintf(stderr, "test_is_whiteout_real: not root, mknod 0/0 skipped\n");
	}

	fixture_teardown(&f);
}
END_TEST

START_TEST(test_is_wh_name)
{
	static const struct {
		const char *name;
		bool wh;
	} t[] = {
		{ ".wh.foo", true },   { ".wh..wh..opq", true }, { ".wh..wh.plnk", true },
		{ ".wh.", true },      { ".wh.a.b", true },      { "foo", false },
		{ ".wh", false },      { "a.wh.b", false },      { " .wh.x", false },
		{ ".WH.foo", false },  { "", false },            { "wh.foo", false },
		{ "..wh.foo", false }, { ".", false },           { "..", false },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
		ck_assert_msg(uf_is_wh_name(t[i].name) == t[i].wh, "uf_is_wh_name('%s') != %d",
			      t[i].name, t[i].wh);
}
END_TEST

START_TEST(test_is_private_xattr)
{
	/* With the trusted namespace in use (root), user.overlay.* is data;
	 * an escaped name is a user's; only the namespace's own are private. */
	static const struct {
		const char *prefix, *name;
		bool priv;
		const char *shown; /* what listxattr shows, NULL: hidden */
	} t[] = {
		{ "trusted.overlay.", "trusted.overlay.opaque", true, NULL },
		{ "trusted.overlay.", "trusted.overlay.redirect", true, NULL },
		{ "trusted.overlay.", "trusted.overlay.whatever", true, NULL },
		{ "trusted.overlay.", "trusted.overlay.overlay.opaque", false, "trusted.overlay.opaque" },
		{ "trusted.overlay.", "trusted.overlay.overlay.overlay.x", false,
		  "trusted.overlay.overlay.x" },
		{ "trusted.overlay.", "user.overlay.opaque", false, "user.overlay.opaque" },
		{ "user.overlay.", "user.overlay.opaque", true, NULL },
		{ "user.overlay.", "user.overlay.impure", true, NULL },
		{ "user.overlay.", "user.overlay.overlay.impure", false, "user.overlay.impure" },
		{ "user.overlay.", "trusted.overlay.opaque", false, "trusted.overlay.opaque" },
		{ "trusted.overlay.", "trusted.overlay", false, "trusted.overlay" },
		{ "trusted.overlay.", "trusted.overlayfoo", false, "trusted.overlayfoo" },
		{ "user.overlay.", "user.overlayx.opaque", false, "user.overlayx.opaque" },
		{ "trusted.overlay.", "security.capability", false, "security.capability" },
		{ "trusted.overlay.", "user.foo", false, "user.foo" },
		{ "trusted.overlay.", "overlay.opaque", false, "overlay.opaque" },
		{ "trusted.overlay.", "", false, "" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		ck_assert_msg(uf_is_private_xattr(t[i].prefix, t[i].name) == t[i].priv,
			      "uf_is_private_xattr('%s', '%s') != %d", t[i].prefix, t[i].name,
			      t[i].priv);
		g_autofree char *shown = uf_xattr_from_disk(t[i].prefix, t[i].name);
		if (t[i].shown)
			ck_assert_str_eq(shown, t[i].shown);
		else
			ck_assert_ptr_null(shown);
		/* What is shown is stored back under the same on-disk name. */
		if (shown) {
			g_autofree char *disk = uf_xattr_to_disk(t[i].prefix, shown);
			ck_assert_str_eq(disk, t[i].name);
		}
	}
}
END_TEST

START_TEST(test_xattr_names)
{
	static const bool userxattr[] = { false, true };

	for (size_t i = 0; i < G_N_ELEMENTS(userxattr); i++) {
		struct fixture f;
		const char *prefix;

		fixture_setup(&f, userxattr[i]);
		prefix = f.fs->xattr_prefix;
		ck_assert_ptr_nonnull(prefix);
		if (userxattr[i])
			ck_assert_str_eq(prefix, "user.overlay.");
		else if (geteuid() == 0)
			ck_assert_str_eq(prefix, "trusted.overlay.");
		else
			ck_assert_msg(strcmp(prefix, "trusted.overlay.") == 0 ||
					      strcmp(prefix, "user.overlay.") == 0,
				      "prefix '%s'", prefix);
		g_autofree char *opaque = g_strconcat(prefix, "opaque", NULL);
		g_autofree char *redirect = g_strconcat(prefix, "redirect", NULL);
		ck_assert_str_eq(f.fs->xattr_opaque, opaque);
		ck_assert_str_eq(f.fs->xattr_redirect, redirect);
		ck_assert(uf_is_private_xattr(prefix, f.fs->xattr_opaque));
		ck_assert(uf_is_private_xattr(prefix, f.fs->xattr_redirect));
		ck_assert(uf_is_private_xattr(prefix, f.fs->xattr_metacopy));
		fixture_teardown(&f);
	}
}
END_TEST

START_TEST(test_has_aufs_whiteout)
{
	struct fixture f;
	char longname[260];

	fixture_setup(&f, false);
	touch(f.upper_fd, ".wh.foo");
	touch(f.upper_fd, "plain");
	ck_assert_int_eq(mkdirat(f.upper_fd, ".wh.dir", 0755), 0);
	ck_assert_int_eq(symlinkat("/nonexistent", f.upper_fd, ".wh.dangling"), 0);
	touch(f.upper_fd, ".wh..wh..opq");

	static const struct {
		const char *name;
		bool wh;
	} t[] = {
		{ "foo", true },
		{ "dir", false },      /* only a regular ".wh." file counts */
		{ "dangling", false }, /* a symlink, not followed: no whiteout */
		{ "plain", false },   /* the name itself is no whiteout */
		{ "bar", false },
		{ ".wh.foo", false }, /* would be ".wh..wh.foo" */
		{ "fo", false },
		{ "foo2", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
		ck_assert_msg(uf_has_aufs_whiteout(f.upper_fd, t[i].name) == t[i].wh,
			      "uf_has_aufs_whiteout('%s') != %d", t[i].name, t[i].wh);

	/* ".wh." + 255 chars is too long to exist: "no", not an error. */
	memset(longname, 'n', 255);
	longname[255] = '\0';
	ck_assert(!uf_has_aufs_whiteout(f.upper_fd, longname));

	/* In the lower, not the upper: asked per directory. */
	int lfd = open(f.lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(lfd, 0);
	ck_assert(!uf_has_aufs_whiteout(lfd, "foo"));
	close(lfd);

	fixture_teardown(&f);
}
END_TEST

/* How a test directory is marked. */
enum mark {
	MARK_NONE,
	MARK_XATTR,        /* <prefix>opaque set to @value with setxattr(2) */
	MARK_OPQ_FILE,     /* a ".wh..wh..opq" file */
	MARK_SET_OPAQUE,   /* uf_dir_set_opaque() */
	MARK_TRUSTED_ROOT, /* trusted.overlay.opaque, as root */
	MARK_WH_CHILD,     /* an aufs whiteout child: not opaque */
};

START_TEST(test_dir_is_opaque)
{
	static const struct {
		const char *name;
		enum mark mark;
		const char *value;
		bool opaque;
	} t[] = {
		{ "plain", MARK_NONE, NULL, false },
		{ "xattr-y", MARK_XATTR, "y", true },
		{ "xattr-n", MARK_XATTR, "n", false },
		{ "xattr-empty", MARK_XATTR, "", false },
		/* Kernel overlayfs (6.7+): opaque="x" marks a merge dir holding
		 * xwhiteouts; it is not opaque. */
		{ "xattr-x", MARK_XATTR, "x", false },
		{ "opq-file", MARK_OPQ_FILE, NULL, true },
		{ "set-opaque", MARK_SET_OPAQUE, NULL, true },
		{ "trusted-y", MARK_TRUSTED_ROOT, "y", true },
		{ "wh-child", MARK_WH_CHILD, NULL, false },
	};
	struct fixture f;

	fixture_setup(&f, false);
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		int fd = mkdir_open(f.upper_fd, t[i].name);

		switch (t[i].mark) {
		case MARK_NONE:
			break;
		case MARK_XATTR:
			ck_assert_msg(fsetxattr(fd, f.fs->xattr_opaque, t[i].value,
						strlen(t[i].value), 0) == 0,
				      "setxattr %s: %s", f.fs->xattr_opaque, g_strerror(errno));
			break;
		case MARK_OPQ_FILE:
			touch(fd, UF_WH_OPAQUE);
			break;
		case MARK_SET_OPAQUE:
			ck_assert_int_eq(uf_dir_set_opaque(f.fs, fd), 0);
			break;
		case MARK_TRUSTED_ROOT:
			if (geteuid() != 0 || strcmp(f.fs->xattr_prefix, "trusted.overlay.") != 0) {
				fprintf(stderr, "test_dir_is_opaque: '%s' skipped (not root)\n",
					t[i].name);
				close(fd);
				continue;
			}
			ck_assert_int_eq(fsetxattr(fd, "trusted.overlay.opaque", t[i].value,
						   strlen(t[i].value), 0),
					 0);
			break;
		case MARK_WH_CHILD:
			touch(fd, ".wh.gone");
			break;
		}
		ck_assert_msg(uf_dir_is_opaque(f.fs, fd) == t[i].opaque,
			      "uf_dir_is_opaque('%s') != %d", t[i].name, t[i].opaque);
		close(fd);
	}
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_opaque_redirect_roundtrip)
{
	static const char *const paths[] = {
		"/a/b",
		"rel",
		"/with space/and:colon",
		"/long/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	struct fixture f;
	char *redirect = (char *)"sentinel";

	fixture_setup(&f, false);
	int fd = mkdir_open(f.upper_fd, "d");

	/* A fresh directory: no redirect, not opaque. */
	ck_assert_int_eq(uf_dir_get_redirect(f.fs, fd, &redirect), 0);
	ck_assert_ptr_null(redirect);
	ck_assert(!uf_dir_is_opaque(f.fs, fd));

	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
		ck_assert_int_eq(uf_dir_set_redirect(f.fs, fd, paths[i]), 0);
		ck_assert_int_eq(uf_dir_get_redirect(f.fs, fd, &redirect), 0);
		ck_assert_ptr_nonnull(redirect);
		ck_assert_str_eq(redirect, paths[i]);
		g_free(redirect);
		/* Stored as the raw path under the fs's own xattr name. */
		char buf[256];
		ssize_t n = fgetxattr(fd, f.fs->xattr_redirect, buf, sizeof(buf));
		ck_assert_int_eq(n, (ssize_t)strlen(paths[i]));
		ck_assert(memcmp(buf, paths[i], n) == 0);
	}
	ck_assert(!uf_dir_is_opaque(f.fs, fd)); /* a redirect is no opaque mark */
	/* "/" alone is written by nobody and refused by the kernel. */
	ck_assert_int_eq(uf_dir_set_redirect(f.fs, fd, "/"), 0);
	ck_assert_int_eq(uf_dir_get_redirect(f.fs, fd, &redirect), -EINVAL);
	ck_assert_ptr_null(redirect);
	ck_assert_int_eq(uf_dir_set_redirect(f.fs, fd, paths[G_N_ELEMENTS(paths) - 1]), 0);

	ck_assert_int_eq(uf_dir_set_opaque(f.fs, fd), 0);
	ck_assert(uf_dir_is_opaque(f.fs, fd));
	ck_assert_int_eq(uf_dir_set_opaque(f.fs, fd), 0); /* idempotent */
	ck_assert(uf_dir_is_opaque(f.fs, fd));
	char v[4];
	ck_assert_int_eq(fgetxattr(fd, f.fs->xattr_opaque, v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'y');

	/* The redirect survives the opaque mark. */
	ck_assert_int_eq(uf_dir_get_redirect(f.fs, fd, &redirect), 0);
	ck_assert_ptr_nonnull(redirect);
	ck_assert_str_eq(redirect, paths[G_N_ELEMENTS(paths) - 1]);
	g_free(redirect);

	/* The other directory is untouched. */
	int fd2 = mkdir_open(f.upper_fd, "e");
	redirect = (char *)"sentinel";
	ck_assert_int_eq(uf_dir_get_redirect(f.fs, fd2, &redirect), 0);
	ck_assert_ptr_null(redirect);
	ck_assert(!uf_dir_is_opaque(f.fs, fd2));

	close(fd2);
	close(fd);
	fixture_teardown(&f);
}
END_TEST

START_TEST(test_whiteout_create)
{
	struct fixture f;
	struct stat st;

	fixture_setup(&f, false);
	ck_assert_int_eq(uf_whiteout_create(f.fs, f.upper_fd, "gone"), 0);
	/* Either form: a char 0/0 device, or (without CAP_MKNOD) ".wh.gone". */
	bool dev = fstatat(f.upper_fd, "gone", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		   uf_is_whiteout(&st);
	ck_assert(dev || uf_has_aufs_whiteout(f.upper_fd, "gone"));
	if (geteuid() == 0)
		ck_assert_msg(dev, "root should get a char 0/0 whiteout");

	/* The name is taken now. */
	ck_assert_int_eq(uf_whiteout_create(f.fs, f.upper_fd, "gone"), -EEXIST);
	fixture_teardown(&f);
}
END_TEST

static Suite *whiteout_suite(void)
{
	Suite *s = suite_create("whiteout");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_is_whiteout_synthetic);
	tcase_add_test(tc, test_is_whiteout_real);
	tcase_add_test(tc, test_is_wh_name);
	tcase_add_test(tc, test_is_private_xattr);
	tcase_add_test(tc, test_xattr_names);
	tcase_add_test(tc, test_has_aufs_whiteout);
	tcase_add_test(tc, test_dir_is_opaque);
	tcase_add_test(tc, test_opaque_redirect_roundtrip);
	tcase_add_test(tc, test_whiteout_create);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_base = g_build_filename(g_get_tmp_dir(), "uf-test-whiteout-XXXXXX", NULL);
	if (!mkdtemp(test_base)) {
		fprintf(stderr, "mkdtemp %s: %s\n", test_base, g_strerror(errno));
		return EXIT_FAILURE;
	}

	SRunner *sr = srunner_create(whiteout_suite());

	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(test_base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(test_base);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
