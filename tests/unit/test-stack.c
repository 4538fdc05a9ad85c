/* Unit tests for stack.c: what the lowers of a branch stack show at a path,
 * on plain tmpdir branches, with the aufs whiteout forms (no privilege
 * needed) and user.overlay.* redirects and opaque marks (--userxattr).
 * Links unionfuse-layer alone: no FUSE, no daemon. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unionfuse/layer/stack.h"

static char *base;

static void put(const char *rel, const char *content)
{
	g_autofree char *p = g_build_filename(base, rel, NULL);
	g_autofree char *dir = g_path_get_dirname(p);
	ck_assert_int_eq(g_mkdir_with_parents(dir, 0755), 0);
	if (content)
		ck_assert(g_file_set_contents(p, content, -1, NULL));
	else
		ck_assert_int_eq(g_mkdir_with_parents(p, 0755), 0);
}

static bool set_x(const char *rel, const char *name, const char *v)
{
	g_autofree char *p = g_build_filename(base, rel, NULL);
	return setxattr(p, name, v, strlen(v), 0) == 0;
}

/* The layer index and type letter shown at @path, as "L0 f", or "none". */
static char *show(struct uf_stack *s, const char *path)
{
	struct uf_stack_obj o;

	ck_assert_int_eq(uf_stack_lookup(s, path, &o), 0);
	if (o.layer < 0)
		return g_strdup("none");
	close(o.fd);
	return g_strdup_printf("L%d %c", o.layer, S_ISDIR(o.st.st_mode) ? 'd' : 'f');
}

START_TEST(test_lookup)
{
	char *paths[3];
	struct uf_stack s;
	g_autofree char *err = NULL;

	/* bottom "b", middle "m" (top lower, index 0), upper "u" */
	put("b/f", "b");
	put("b/gone", "b");
	put("b/d/x", "b");
	put("b/d/y", "b");
	put("b/old/z", "b");
	put("b/opq/hidden", "b");
	put("m/.wh.gone", "");
	put("m/d/x2", "m");
	put("m/f", "m");
	put("m/opq/.wh..wh..opq", "");
	put("m/opq/seen", "m");
	put("m/new", NULL);
	put("u", NULL);
	bool xattrs = set_x("m/new", "user.overlay.redirect", "/old");

	paths[0] = g_build_filename(base, "b", NULL);
	paths[1] = g_build_filename(base, "m", NULL);
	paths[2] = g_build_filename(base, "u", NULL);
	ck_assert_int_eq(uf_stack_open(paths, 3, true, &s, &err), 0);
	ck_assert_uint_eq(s.n_lowers, 2);

	static const struct {
		const char *path, *want;
		bool needs_xattr;
	} t[] = {
		{ "", "L0 d", false },		 { "f", "L0 f", false }, /* the top lower's */
		{ "gone", "none", false }, /* aufs whiteout in the middle */
		{ "d", "L0 d", false },		 { "d/x", "L1 f", false }, /* merged from below */
		{ "d/x2", "L0 f", false },	 { "opq/seen", "L0 f", false },
		{ "opq/hidden", "none", false }, /* below an opaque dir */
		{ "nothing", "none", false },	 { "f/below", "none", false }, /* through a file */
		{ "new/z", "L1 f", true }, /* a redirect in the middle */
		{ "old/z", "L1 f", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		if (t[i].needs_xattr && !xattrs)
			continue; /* no user xattrs on this filesystem */
		g_autofree char *got = show(&s, t[i].path);
		ck_assert_msg(strcmp(got, t[i].want) == 0, "%s: got %s, want %s", t[i].path, got,
			      t[i].want);
	}
	uf_stack_done(&s);
	for (int i = 0; i < 3; i++)
		g_free(paths[i]);
}
END_TEST

START_TEST(test_open_errors)
{
	char *one[] = { (char *)"/" };
	char *missing[] = { (char *)"/", (char *)"/nonexistent-uf-branch" };
	struct uf_stack s;
	g_autofree char *e1 = NULL;
	g_autofree char *e2 = NULL;

	ck_assert_int_eq(uf_stack_open(one, 1, false, &s, &e1), -EINVAL);
	uf_stack_done(&s);
	ck_assert_int_eq(uf_stack_open(missing, 2, false, &s, &e2), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e2, "/nonexistent-uf-branch"));
	uf_stack_done(&s);
}
END_TEST

int main(void)
{
	g_autofree char *tmpl = g_build_filename(g_get_tmp_dir(), "uf-test-stack.XXXXXX", NULL);
	base = g_mkdtemp(tmpl);
	if (!base)
		return EXIT_FAILURE;
	Suite *su = suite_create("stack");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_open_errors);
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
