/* Unit tests for util.c: the per-call-site rate limit of uf_log_limited()
 * and the escaping of control characters in log lines. No mount, no root. */
#include <check.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unionfuse/util.h"

#define SEC G_USEC_PER_SEC

START_TEST(test_ratelimit_window)
{
	struct uf_ratelimit rl = { 0 };
	unsigned missed = 0, allowed = 0;
	int64_t t0 = 1000 * SEC;

	/* A burst, then silence for the rest of the interval. */
	for (int i = 0; i < 100; i++) {
		allowed += uf_ratelimit_allow(&rl, t0 + i * SEC / 10, &missed);
		ck_assert_uint_eq(missed, 0);
	}
	ck_assert_uint_eq(allowed, UF_RATELIMIT_BURST);
	/* Still inside the interval at its last microsecond. */
	ck_assert(!uf_ratelimit_allow(&rl, t0 + UF_RATELIMIT_INTERVAL - 1, &missed));
	ck_assert_uint_eq(missed, 0);
	/* The next interval reports what was suppressed, once. */
	ck_assert(uf_ratelimit_allow(&rl, t0 + UF_RATELIMIT_INTERVAL, &missed));
	ck_assert_uint_eq(missed, 100 - UF_RATELIMIT_BURST + 1);
	ck_assert(uf_ratelimit_allow(&rl, t0 + UF_RATELIMIT_INTERVAL + 1, &missed));
	ck_assert_uint_eq(missed, 0);
	/* A quiet site: nothing suppressed, nothing reported. */
	ck_assert(uf_ratelimit_allow(&rl, t0 + 10 * UF_RATELIMIT_INTERVAL, &missed));
	ck_assert_uint_eq(missed, 0);
	/* A clock that goes back (it cannot, but) starts a new interval
	 * instead of silencing the site for ever. */
	ck_assert(uf_ratelimit_allow(&rl, 5, &missed));
}
END_TEST

START_TEST(test_ratelimit_first_at_zero)
{
	struct uf_ratelimit rl = { 0 };
	unsigned missed;

	/* now == 0 must not look like "no interval yet" on every call. */
	for (int i = 0; i < UF_RATELIMIT_BURST; i++)
		ck_assert(uf_ratelimit_allow(&rl, 0, &missed));
	ck_assert(!uf_ratelimit_allow(&rl, 0, &missed));
}
END_TEST

/* Run @fn with stderr sent to a file; return what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/unionfuse-test-util.XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	char *out = NULL;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	off_t n = lseek(fd, 0, SEEK_END);
	out = g_malloc0(n + 1);
	ck_assert_int_eq(pread(fd, out, n, 0), n);
	close(fd);
	return out;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void two_sites(void)
{
	for (int i = 0; i < 50; i++) {
		uf_log_limited(LOG_WARNING, "site A: attempt %d by '%s'", i, "mallory");
		uf_log_limited(LOG_WARNING, "site B: attempt %d", i);
	}
}

START_TEST(test_log_limited_per_site)
{
	g_autofree char *out = capture_stderr(two_sites);

	/* Each call site has its own budget: flooding A does not silence B. */
	ck_assert_uint_eq(count(out, "unionfuse: site A: attempt "), UF_RATELIMIT_BURST);
	ck_assert_uint_eq(count(out, "unionfuse: site B: attempt "), UF_RATELIMIT_BURST);
	ck_assert_uint_eq(count(out, "\n"), 2 * UF_RATELIMIT_BURST);
	ck_assert_ptr_nonnull(strstr(out, "unionfuse: site A: attempt 0 by 'mallory'\n"));
}
END_TEST

static void hostile_name(void)
{
	uf_log(LOG_WARNING, "bad name '%s'", "a\nunionfuse: forged\x1b[2J");
}

START_TEST(test_log_escapes_control_chars)
{
	g_autofree char *out = capture_stderr(hostile_name);

	ck_assert_str_eq(out, "unionfuse: bad name 'a\\x0aunionfuse: forged\\x1b[2J'\n");
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ratelimit_window);
	tcase_add_test(tc, test_ratelimit_first_at_zero);
	tcase_add_test(tc, test_log_limited_per_site);
	tcase_add_test(tc, test_log_escapes_control_chars);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());

	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
