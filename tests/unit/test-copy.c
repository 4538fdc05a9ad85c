/* Unit tests for lib/layer/copy.c: data with holes, a node's metadata, and
 * a tree's hard links and whiteouts. No mount; the whiteout and owner cases
 * need root and are skipped without it. */
#include <check.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unionfuse/layer/copy.h"
#include "unionfuse/util.h"

static char *base;

static int fresh_dir(const char *name)
{
	g_autofree char *p = g_build_filename(base, name, NULL);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(test_holes)
{
	_cleanup_close_ int d = fresh_dir("holes");
	_cleanup_close_ int src = openat(d, "src", O_RDWR | O_CREAT, 0644);
	_cleanup_close_ int dst = openat(d, "dst", O_RDWR | O_CREAT, 0644);
	off_t size = 64 << 20;
	char buf[8] = { 0 };
	struct stat st;

	ck_assert_int_eq(pwrite(src, "middle", 6, size / 2), 6);
	ck_assert_int_eq(ftruncate(src, size), 0);
	ck_assert_int_eq(uf_layer_copy_data(src, dst, size, NULL), 0);
	ck_assert_int_eq(fstat(dst, &st), 0);
	ck_assert_int_eq(st.st_size, size);
	/* A 64 MiB file with 6 bytes of data: no more than a few blocks. */
	ck_assert_int_lt(st.st_blocks * 512, 4 << 20);
	ck_assert_int_eq(pread(dst, buf, 6, size / 2), 6);
	ck_assert_str_eq(buf, "middle");
}
END_TEST

START_TEST(test_node)
{
	_cleanup_close_ int d = fresh_dir("node");
	struct timespec ts[2] = { { 1000000000, 5 }, { 1100000000, 7 } };
	struct stat st;
	char v[16];

	_cleanup_close_ int f = openat(d, "f", O_WRONLY | O_CREAT, 0640);
	ck_assert_int_eq(write(f, "data", 4), 4);
	ck_assert_int_eq(fsetxattr(f, "user.k", "v", 1, 0), 0);
	ck_assert_int_eq(fchmod(f, 04750), 0);
	ck_assert_int_eq(futimens(f, ts), 0);
	ck_assert_int_eq(uf_layer_copy_node(d, "f", -1, d, "g", NULL), 0);
	ck_assert_int_eq(fstatat(d, "g", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(st.st_mode & 07777, 04750);
	ck_assert_int_eq(st.st_size, 4);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1100000000);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 7);
	ck_assert_int_eq(st.st_atim.tv_sec, 1000000000);
	g_autofree char *g = g_build_filename(base, "node", "g", NULL);
	ssize_t n = getxattr(g, "user.k", v, sizeof(v));
	ck_assert_int_eq(n, 1);
	/* The destination name exists: EEXIST, and it is left alone. */
	ck_assert_int_eq(uf_layer_copy_node(d, "f", -1, d, "g", NULL), -EEXIST);
	ck_assert_int_eq(fstatat(d, "g", &st, AT_SYMLINK_NOFOLLOW), 0);

	ck_assert_int_eq(symlinkat("../somewhere", d, "l"), 0);
	ck_assert_int_eq(uf_layer_copy_node(d, "l", -1, d, "l2", NULL), 0);
	n = readlinkat(d, "l2", v, sizeof(v));
	ck_assert_int_eq(n, 12);
	ck_assert(memcmp(v, "../somewhere", 12) == 0);
	ck_assert_int_eq(uf_layer_copy_node(d, ".", -1, d, "x", NULL), -EISDIR);
}
END_TEST

START_TEST(test_tree)
{
	_cleanup_close_ int d = fresh_dir("tree");
	struct stat a, b, w;

	ck_assert_int_eq(mkdirat(d, "s", 0750), 0);
	ck_assert_int_eq(mkdirat(d, "s/sub", 0700), 0);
	_cleanup_close_ int f = openat(d, "s/sub/f", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(linkat(d, "s/sub/f", d, "s/link", 0), 0);
	bool root = geteuid() == 0;
	if (root)
		ck_assert_int_eq(mknodat(d, "s/wh", S_IFCHR | 0000, makedev(0, 0)), 0);
	ck_assert_int_eq(uf_layer_copy_tree(d, "s", d, "c"), 0);
	ck_assert_int_eq(fstatat(d, "c", &a, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(a.st_mode & 07777, 0750);
	ck_assert_int_eq(fstatat(d, "c/sub/f", &a, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(fstatat(d, "c/link", &b, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(a.st_ino, b.st_ino); /* still one inode */
	ck_assert_int_eq(a.st_nlink, 2);
	if (root) {
		ck_assert_int_eq(fstatat(d, "c/wh", &w, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(S_ISCHR(w.st_mode) && w.st_rdev == makedev(0, 0));
	}
}
END_TEST

int main(void)
{
	g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), "uf-test-copy.XXXXXX", NULL);
	base = g_mkdtemp(tmpl);
	if (!base)
		return EXIT_FAILURE;
	umask(0);
	Suite *su = suite_create("copy");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_holes);
	tcase_add_test(tc, test_node);
	tcase_add_test(tc, test_tree);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	g_autofree char *rm = g_strdup_printf("rm -rf '%s'", base);
	if (system(rm) != 0)
		failed++;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
