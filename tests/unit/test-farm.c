/* Unit tests for farm.c's pure parts: which command lines ask for a farm
 * (an upper with %n) and which sandbox names are valid, with hostile ones.
 * No mount, no root. */
#include <check.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "unionfuse/farm.h"
#include "unionfuse/farmint.h"

START_TEST(test_farm_wanted)
{
	static const struct {
		const char *upper;
		bool has_upper;
		bool want;
	} t[] = {
		{ "/srv/uppers/%n", true, true },
		{ "%n", true, true },
		{ "/srv/%n/x", true, true }, /* a farm, refused by uf_farm_new() */
		{ "/srv/uppers/%%n", true, false },
		{ "/srv/50%done", true, false },
		{ "/srv/a%%%n", true, true },
		{ "/srv/uppers/%n", false, false }, /* -o ro: a literal lower */
		{ "/srv/up", true, false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		struct uf_config c = { .branches = g_ptr_array_new(), .has_upper = t[i].has_upper };
		g_ptr_array_add(c.branches, (char *)t[i].upper);
		ck_assert_msg(uf_farm_wanted(&c) == t[i].want, "'%s': want %d", t[i].upper,
			      t[i].want);
		g_ptr_array_unref(c.branches);
	}
}
END_TEST

START_TEST(test_farm_names)
{
	static const struct {
		const char *name;
		bool valid;
	} t[] = {
		{ "alice", true },   { "a.b-c_d", true }, { "0", true },   { "ümlaut", true },
		{ "", false },	     { ".", false },	  { "..", false }, { ".hidden", false },
		{ ".wh.x", false },  { "a/b", false },	  { "/", false },  { "%n", false },
		{ "a%b", false },    { "a\nb", false },	  { "\t", false }, { "a\x7f", false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
		ck_assert_msg(uf_farm_name_valid(t[i].name) == t[i].valid, "'%s': want %d",
			      t[i].name, t[i].valid);
	char long_name[300];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert(!uf_farm_name_valid(long_name));
	long_name[255] = '\0';
	ck_assert(uf_farm_name_valid(long_name));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("farm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_farm_wanted);
	tcase_add_test(tc, test_farm_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
