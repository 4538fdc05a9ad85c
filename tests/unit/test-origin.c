/* Unit tests for origin.c: overlay.origin encoding, index entry names and
 * overlay.nlink, checked against values Linux 6.18's overlayfs wrote
 * (index=on, a lower hard link copied up on tmpfs and ext4). */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unionfuse/layer/origin.h"

/* trusted.overlay.origin of a copy of a tmpfs file (uuid 913f51f5...). */
static const uint8_t kernel_tmpfs[] = {
	0x00, 0xfb, 0x21, 0x00, 0x01, 0x91, 0x3f, 0x51, 0xf5, 0x42, 0xae,
	0x49, 0xfe, 0x9e, 0x93, 0xa0, 0x9d, 0x69, 0x05, 0x39, 0xc7, 0x66,
	0x84, 0x56, 0xec, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

START_TEST(test_encode_kernel)
{
	uint8_t out[UF_ORIGIN_MAX];
	struct uf_origin o;

	if (__BYTE_ORDER == __BIG_ENDIAN)
		return; /* the kernel's value carries this CPU's byte order */
	ck_assert_int_eq(uf_origin_parse(kernel_tmpfs, sizeof(kernel_tmpfs), &o), 0);
	int n = uf_origin_encode(o.type, o.fid, o.fid_len, o.uuid, false, out);
	ck_assert_int_eq(n, sizeof(kernel_tmpfs));
	ck_assert_mem_eq(out, kernel_tmpfs, n);
	/* The upper's own handle (index/'s overlay.upper) is flagged. */
	n = uf_origin_encode(o.type, o.fid, o.fid_len, o.uuid, true, out);
	ck_assert_int_eq(out[3], UF_FB_FLAG_PATH_UPPER);
	ck_assert_int_eq(uf_origin_parse(out, n, NULL), 0);
}
END_TEST

START_TEST(test_encode_invalid)
{
	uint8_t out[UF_ORIGIN_MAX], fid[UF_FH_FID_MAX + 4] = { 0 }, uuid[16] = { 0 };

	ck_assert_int_eq(uf_origin_encode(1, fid, 0, uuid, false, out), -EINVAL);
	ck_assert_int_eq(uf_origin_encode(1, fid, 6, uuid, false, out), -EINVAL);
	ck_assert_int_eq(uf_origin_encode(1, fid, UF_FH_FID_MAX + 4, uuid, false, out), -EINVAL);
	ck_assert_int_eq(uf_origin_encode(0xff, fid, 8, uuid, false, out), -EINVAL);
	int n = uf_origin_encode(1, fid, UF_FH_FID_MAX, uuid, false, out);
	ck_assert_int_eq(n, UF_ORIGIN_MAX);
	ck_assert_int_eq(uf_origin_parse(out, n, NULL), 0);
}
END_TEST

START_TEST(test_encode_decode_fd)
{
	char dir[] = "/tmp/uf-origin.XXXXXX";
	uint8_t v[UF_ORIGIN_MAX], uuid[16];
	struct uf_origin o;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	uf_fs_uuid(dfd, uuid);
	int n = uf_origin_of_fd(dfd, uuid, false, v);
	if (n == -EOPNOTSUPP) {
		rmdir(dir);
		return; /* no file handles here */
	}
	ck_assert_int_gt(n, UF_FB_HDR);
	ck_assert_int_eq(uf_origin_parse(v, n, &o), 0);
	ck_assert_mem_eq(o.uuid, uuid, 16);
	/* The same object gives the same value; the handle opens it again. */
	uint8_t v2[UF_ORIGIN_MAX];
	ck_assert_int_eq(uf_origin_of_fd(dfd, uuid, false, v2), n);
	ck_assert_mem_eq(v, v2, n);
	close(dfd);
	rmdir(dir);
}
END_TEST

START_TEST(test_index_name)
{
	char name[UF_INDEX_NAME_MAX];
	uint8_t big[UF_ORIGIN_MAX];

	uf_index_name(kernel_tmpfs, sizeof(kernel_tmpfs), name);
	ck_assert_str_eq(name, "00fb210001913f51f542ae49fe9e93a09d690539c7668456ec0600000000000000");
	memset(big, 0xab, sizeof(big));
	uf_index_name(big, sizeof(big), name);
	ck_assert_uint_eq(strlen(name), 2 * UF_ORIGIN_MAX);
	ck_assert_uint_le(strlen(name), 255 + 43); /* 149 bytes: 298 hex digits */
	uf_index_name(big, 0, name);
	ck_assert_str_eq(name, "");
}
END_TEST

START_TEST(test_nlink)
{
	char base, buf[UF_NLINK_MAX];
	int diff;

	ck_assert_int_eq(uf_nlink_parse("U+1", 3, &base, &diff), 0);
	ck_assert_int_eq(base, 'U');
	ck_assert_int_eq(diff, 1);
	ck_assert_int_eq(uf_nlink_parse("L-2", 3, &base, &diff), 0);
	ck_assert_int_eq(base, 'L');
	ck_assert_int_eq(diff, -2);
	ck_assert_int_eq(uf_nlink_parse("U+0", 3, &base, &diff), 0);
	ck_assert_int_eq(uf_nlink_parse("U+2147483647", 12, &base, &diff), 0);
	ck_assert_int_eq(diff, 2147483647);

	/* Hostile. */
	ck_assert_int_eq(uf_nlink_parse("", 0, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U", 1, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U1", 2, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("X+1", 3, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+1x", 4, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+ 1", 4, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+-1", 4, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+1\0", 4, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+9999999999", 12, &base, &diff), -EINVAL);
	ck_assert_int_eq(uf_nlink_parse("U+0000000000001", 15, &base, &diff), -EINVAL);

	ck_assert_uint_eq(uf_nlink_apply('U', 1, 2, 3, 2), 3);
	ck_assert_uint_eq(uf_nlink_apply('L', -1, 2, 3, 2), 2);
	ck_assert_uint_eq(uf_nlink_apply('U', -5, 2, 3, 2), 2); /* not positive: fallback */
	ck_assert_uint_eq(uf_nlink_apply('U', 2147483647, 4294967295u, 3, 7), 7);

	ck_assert_int_eq(uf_nlink_format(3, 2, buf), 3);
	ck_assert_str_eq(buf, "U+1");
	uf_nlink_format(2, 2, buf);
	ck_assert_str_eq(buf, "U+0");
	uf_nlink_format(1, 3, buf);
	ck_assert_str_eq(buf, "U-2");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("origin");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_encode_kernel);
	tcase_add_test(tc, test_encode_invalid);
	tcase_add_test(tc, test_encode_decode_fd);
	tcase_add_test(tc, test_index_name);
	tcase_add_test(tc, test_nlink);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
