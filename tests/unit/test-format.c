/* Unit tests for format.c: each parser of on-disk values with valid input
 * and with the hostile values an untrusted branch may hold. No files, no
 * mount: the parsers are pure. */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unionfuse/layer/format.h"

/* A value with a length, so that embedded NULs can be written: "a\0b". */
#define V(s) s, sizeof(s) - 1

START_TEST(test_redirect_valid)
{
	static const struct {
		const char *v;
		size_t len;
	} t[] = {
		{ V("/a") },
		{ V("/a/b") },
		{ V("/a/b/c/d") },
		{ V("name") },
		{ V("...") }, /* only "." and ".." are special */
		{ V("/.../a..") },
		{ V(".hidden") },
		{ V("/with space/and:colon") },
		{ V("/x\xff\xfe/\x80") }, /* not UTF-8: valid Linux names */
		{ V("\xc3\x28") },
		{ V("a\\b") },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		char *ret = NULL;
		int r = uf_redirect_parse(t[i].v, t[i].len, 255, &ret);
		ck_assert_msg(r == 0, "'%s': %d", t[i].v, r);
		ck_assert_mem_eq(ret, t[i].v, t[i].len);
		ck_assert_int_eq(ret[t[i].len], '\0');
		g_free(ret);
	}
}
END_TEST

START_TEST(test_redirect_invalid)
{
	static const struct {
		const char *v;
		size_t len;
		int r;
	} t[] = {
		{ V(""), -EINVAL },
		{ V("/"), -EINVAL },  /* the kernel refuses it */
		{ V("//"), -EINVAL }, /* empty components */
		{ V("//a"), -EINVAL },
		{ V("/a//b"), -EINVAL },
		{ V("/a/"), -EINVAL },
		{ V("a/"), -EINVAL }, /* relative with a '/' */
		{ V("a/b"), -EINVAL },
		{ V("../../../etc"), -EINVAL }, /* relative, so '/' is refused first */
		{ V("."), -EACCES },
		{ V(".."), -EACCES },
		{ V("/.."), -EACCES },
		{ V("/../x"), -EACCES },
		{ V("/a/./b"), -EACCES },
		{ V("/a/.."), -EACCES },
		{ V("a\0b"), -EINVAL }, /* embedded NUL */
		{ V("/a\0"), -EINVAL },
		{ V("\0"), -EINVAL },
		{ V("/../a//"), -EINVAL }, /* the shape is checked before any name */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		char *ret = (char *)"untouched";
		int r = uf_redirect_parse(t[i].v, t[i].len, 255, &ret);
		ck_assert_msg(r == t[i].r, "case %zu '%s': %d, want %d", i, t[i].v, r, t[i].r);
		ck_assert_str_eq(ret, "untouched"); /* filled only on success */
	}
}
END_TEST

START_TEST(test_redirect_lengths)
{
	char *ret = NULL;
	g_autofree char *name255 = g_strnfill(255, 'n');
	g_autofree char *name256 = g_strnfill(256, 'n');

	/* Components up to NAME_MAX. */
	g_autofree char *abs255 = g_strconcat("/", name255, NULL);
	ck_assert_int_eq(uf_redirect_parse(abs255, strlen(abs255), 255, &ret), 0);
	g_free(ret);
	ck_assert_int_eq(uf_redirect_parse(name255, 255, 255, &ret), 0);
	g_free(ret);
	g_autofree char *abs256 = g_strconcat("/a/", name256, "/b", NULL);
	ck_assert_int_eq(uf_redirect_parse(abs256, strlen(abs256), 255, &ret), -ENAMETOOLONG);
	ck_assert_int_eq(uf_redirect_parse(name256, 256, 255, &ret), -ENAMETOOLONG);
	/* The branch's own NAME_MAX counts. */
	ck_assert_int_eq(uf_redirect_parse("/abcd", 5, 3, &ret), -ENAMETOOLONG);
	ck_assert_int_eq(uf_redirect_parse("/abc", 4, 3, &ret), 0);
	g_free(ret);
	/* The first bad component decides: the kernel's walk stops there. */
	g_autofree char *long_then_dots = g_strconcat("/", name256, "/..", NULL);
	ck_assert_int_eq(uf_redirect_parse(long_then_dots, strlen(long_then_dots), 255, &ret),
			 -ENAMETOOLONG);
	g_autofree char *dots_then_long = g_strconcat("/../", name256, NULL);
	ck_assert_int_eq(uf_redirect_parse(dots_then_long, strlen(dots_then_long), 255, &ret),
			 -EACCES);

	/* 5000 bytes: a deep path is valid (longer than PATH_MAX too), one
	 * 5000-byte name is not. */
	GString *deep = g_string_new(NULL);
	while (deep->len < 5000)
		g_string_append_printf(deep, "/%s", name255);
	ck_assert_int_eq(uf_redirect_parse(deep->str, deep->len, 255, &ret), 0);
	ck_assert_str_eq(ret, deep->str);
	g_free(ret);
	g_string_free(deep, TRUE);
	g_autofree char *big = g_strnfill(5000, 'x');
	ck_assert_int_eq(uf_redirect_parse(big, 5000, 255, &ret), -ENAMETOOLONG);
	big[0] = '/';
	ck_assert_int_eq(uf_redirect_parse(big, 5000, 255, &ret), -ENAMETOOLONG);

	/* Up to the most getxattr(2) returns, and not a byte more. */
	GString *max = g_string_new(NULL);
	while (max->len < UF_REDIRECT_MAX)
		g_string_append(max, "/d");
	g_string_truncate(max, UF_REDIRECT_MAX);
	ck_assert_int_eq(uf_redirect_parse(max->str, max->len, 255, &ret), 0);
	g_free(ret);
	g_string_append(max, "/d");
	ck_assert_int_eq(uf_redirect_parse(max->str, max->len, 255, &ret), -EINVAL);
	g_string_free(max, TRUE);
}
END_TEST

START_TEST(test_opaque)
{
	static const struct {
		const char *v;
		size_t len;
		enum uf_opaque want;
	} t[] = {
		{ V("y"), UF_OPAQUE_YES },
		{ V("x"), UF_OPAQUE_XWHITEOUTS },
		{ V(""), UF_OPAQUE_NONE },
		{ V("n"), UF_OPAQUE_NONE },
		{ V("Y"), UF_OPAQUE_NONE },
		{ V("yy"), UF_OPAQUE_NONE }, /* the kernel reads one byte: ERANGE */
		{ V("y\0"), UF_OPAQUE_NONE },
		{ V("\0"), UF_OPAQUE_NONE },
		{ V("\xff"), UF_OPAQUE_NONE },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
		ck_assert_msg(uf_opaque_parse(t[i].v, t[i].len) == t[i].want, "case %zu", i);
}
END_TEST

START_TEST(test_metacopy)
{
	struct uf_metacopy m;
	uint8_t v[UF_METACOPY_MAX + 8];

	/* Empty: a metacopy without a digest. */
	memset(&m, 0xaa, sizeof(m));
	ck_assert_int_eq(uf_metacopy_parse("", 0, &m), 0);
	ck_assert_int_eq(m.digest_algo, 0);
	ck_assert_int_eq(m.digest_len, 0);
	ck_assert_int_eq(uf_metacopy_parse("", 0, NULL), 0);

	/* The header alone: version 0, len 4, flags 0, no digest. */
	ck_assert_int_eq(uf_metacopy_parse("\0\4\0\0", 4, &m), 0);
	ck_assert_int_eq(m.digest_len, 0);

	/* SHA-256 and SHA-512 digests. */
	for (int algo = 1; algo <= 2; algo++) {
		size_t dl = algo == 1 ? 32 : 64;
		memset(v, 0, sizeof(v));
		v[1] = UF_METACOPY_HDR + dl;
		v[3] = algo;
		for (size_t i = 0; i < dl; i++)
			v[UF_METACOPY_HDR + i] = i + 1;
		ck_assert_int_eq(uf_metacopy_parse(v, UF_METACOPY_HDR + dl, &m), 0);
		ck_assert_int_eq(m.digest_algo, algo);
		ck_assert_int_eq(m.digest_len, dl);
		ck_assert_mem_eq(m.digest, v + UF_METACOPY_HDR, dl);
		/* One digest byte short, or one too many. */
		v[1]--;
		ck_assert_int_eq(uf_metacopy_parse(v, UF_METACOPY_HDR + dl - 1, &m), -EINVAL);
		v[1] += 2;
		ck_assert_int_eq(uf_metacopy_parse(v, UF_METACOPY_HDR + dl + 1, &m), -EINVAL);
	}

	static const struct {
		const char *v;
		size_t len;
	} bad[] = {
		{ V("\0") }, /* shorter than the header: the kernel says EIO */
		{ V("\0\4") },
		{ V("\0\4\0") },
		{ V("y") },
		{ V("\1\4\0\0") },	/* version 1 */
		{ V("\0\5\0\0") },	/* len byte says 5, value is 4 */
		{ V("\0\4\0\0\0") },	/* value 5, len byte 4 */
		{ V("\0\4\1\0") },	/* a flag we do not know */
		{ V("\0\4\0\1") },	/* SHA-256 without its digest */
		{ V("\0\10\0\3abcd") }, /* unknown algorithm */
		{ V("\0\10\0\0abcd") }, /* a digest without an algorithm */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		ck_assert_msg(uf_metacopy_parse(bad[i].v, bad[i].len, &m) == -EINVAL, "case %zu",
			      i);
	/* Longer than the largest struct. */
	memset(v, 0, sizeof(v));
	v[1] = UF_METACOPY_MAX + 1;
	ck_assert_int_eq(uf_metacopy_parse(v, UF_METACOPY_MAX + 1, &m), -EINVAL);
}
END_TEST

/* A valid struct ovl_fb with a @fid_len-byte handle into @v. */
static size_t make_fb(uint8_t *v, size_t fid_len)
{
	memset(v, 0, UF_FB_HDR + fid_len);
	v[0] = 0;
	v[1] = UF_FB_MAGIC;
	v[2] = UF_FB_HDR + fid_len;
	v[3] = __BYTE_ORDER == __BIG_ENDIAN ? UF_FB_FLAG_BIG_ENDIAN : 0;
	v[4] = 1; /* FILEID_INO32_GEN */
	for (int i = 0; i < 16; i++)
		v[5 + i] = 0xa0 + i;
	for (size_t i = 0; i < fid_len; i++)
		v[UF_FB_HDR + i] = i;
	return UF_FB_HDR + fid_len;
}

START_TEST(test_origin)
{
	uint8_t v[300];
	struct uf_origin o;
	size_t n;

	n = make_fb(v, 8);
	ck_assert_int_eq(uf_origin_parse(v, n, &o), 0);
	ck_assert_int_eq(o.type, 1);
	ck_assert_int_eq(o.fid_len, 8);
	ck_assert_int_eq(o.uuid[15], 0xaf);
	ck_assert_mem_eq(o.fid, v + UF_FB_HDR, 8);
	ck_assert_int_eq(uf_origin_parse(v, n, NULL), 0);
	/* Bytes after len are ignored, as by the kernel. */
	ck_assert_int_eq(uf_origin_parse(v, n + 3, &o), 0);
	/* Any byte order is fine with ANY_ENDIAN; PATH_UPPER is known. */
	v[3] = UF_FB_FLAG_ANY_ENDIAN | UF_FB_FLAG_BIG_ENDIAN | UF_FB_FLAG_PATH_UPPER;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), 0);
	ck_assert_int_eq(o.flags, v[3]);
	n = make_fb(v, UF_FH_FID_MAX);
	ck_assert_int_eq(uf_origin_parse(v, n, &o), 0);

	/* "Origin unknown": empty, newer version, unknown flags, other byte order. */
	ck_assert_int_eq(uf_origin_parse("", 0, &o), -ENODATA);
	n = make_fb(v, 8);
	v[0] = 1;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -ENODATA);
	n = make_fb(v, 8);
	v[3] |= 1 << 3;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -ENODATA);
	n = make_fb(v, 8);
	v[3] ^= UF_FB_FLAG_BIG_ENDIAN;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -ENODATA);

	/* Malformed. */
	n = make_fb(v, 8);
	ck_assert_int_eq(uf_origin_parse(v, UF_FB_HDR - 1, &o), -EINVAL); /* short */
	ck_assert_int_eq(uf_origin_parse(v, n - 1, &o), -EINVAL);	  /* len > size */
	v[1] = 0xfa;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* magic */
	n = make_fb(v, 8);
	v[2] = UF_FB_HDR - 1;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* len below the header */
	v[2] = UF_FB_HDR;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* no handle */
	v[2] = UF_FB_HDR + 6;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* not whole words */
	n = make_fb(v, 8);
	v[4] = 0xff;
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* FILEID_INVALID */
	n = make_fb(v, UF_FH_FID_MAX + 4);
	ck_assert_int_eq(uf_origin_parse(v, n, &o), -EINVAL); /* > MAX_HANDLE_SZ */
	ck_assert_int_eq(uf_origin_parse("\0\xfb", 2, &o), -EINVAL);
}
END_TEST

START_TEST(test_wh_names)
{
	static const struct {
		const char *name;
		enum uf_wh_name kind;
		const char *target;
	} t[] = {
		{ "foo", UF_WH_NONE, NULL },
		{ ".wh", UF_WH_NONE, NULL },
		{ ".whfoo", UF_WH_NONE, NULL },
		{ "x.wh.foo", UF_WH_NONE, NULL },
		{ ".WH.foo", UF_WH_NONE, NULL },
		{ ".wh.foo", UF_WH_TARGET, "foo" },
		{ ".wh..foo", UF_WH_TARGET, ".foo" },
		{ ".wh....", UF_WH_TARGET, "..." },
		{ ".wh.\xff\xfe", UF_WH_TARGET, "\xff\xfe" }, /* not UTF-8: a name */
		{ ".wh..wh..opq", UF_WH_OPQ, NULL },
		{ ".wh..wh..opqx", UF_WH_RESERVED, NULL },
		{ ".wh..wh.plnk", UF_WH_RESERVED, NULL },
		{ ".wh..wh.uf-tmp.1.2", UF_WH_RESERVED, NULL },
		{ ".wh.", UF_WH_RESERVED, NULL }, /* would hide "" */
		{ ".wh..", UF_WH_RESERVED, NULL },
		{ ".wh...", UF_WH_RESERVED, NULL },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		const char *target = "untouched";
		ck_assert_msg(uf_wh_name_parse(t[i].name, &target) == t[i].kind, "'%s'", t[i].name);
		ck_assert_str_eq(target, t[i].target ? t[i].target : "untouched");
		ck_assert_int_eq(uf_wh_name_parse(t[i].name, NULL), t[i].kind);
	}
}
END_TEST

START_TEST(test_whiteout_types)
{
	static const struct {
		mode_t mode;
		dev_t rdev;
		bool kernel, aufs;
	} t[] = {
		{ S_IFCHR, 0, true, false },
		{ S_IFCHR, 1, false, false }, /* char 0/1: no whiteout */
		{ S_IFBLK, 0, false, false },
		{ S_IFREG, 0, false, true },
		{ S_IFDIR, 0, false, false },
		{ S_IFLNK, 0, false, false },
		{ S_IFIFO, 0, false, false },
		{ S_IFSOCK, 0, false, false },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		struct stat st = { .st_mode = t[i].mode | 0644, .st_rdev = t[i].rdev };
		ck_assert_int_eq(uf_format_is_whiteout(&st), t[i].kernel);
		ck_assert_int_eq(uf_format_is_aufs_whiteout(&st), t[i].aufs);
	}
}
END_TEST

static Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_redirect_valid);
	tcase_add_test(tc, test_redirect_invalid);
	tcase_add_test(tc, test_redirect_lengths);
	tcase_add_test(tc, test_opaque);
	tcase_add_test(tc, test_metacopy);
	tcase_add_test(tc, test_origin);
	tcase_add_test(tc, test_wh_names);
	tcase_add_test(tc, test_whiteout_types);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(format_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
