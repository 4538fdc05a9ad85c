/* Unit tests for readdir.c and namei.c on plain tmpdir branches: the merged
 * listing of three real directories (whiteouts, aufs ".wh." names, opaque
 * directories, d_type and st_ino), and that uf_namei() agrees with it. No
 * mount; the char-0/0 whiteout cases need root and are skipped without. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "unionfuse/inode.h"
#include "unionfuse/namei.h"
#include "unionfuse/params.h"
#include "unionfuse/readdir.h"
#include "unionfuse/super.h"
#include "unionfuse/whiteout.h"

#define NB 3 /* branches, top-first: upper, mid, bottom */

static const char *const branch_names[NB] = { "upper", "mid", "bottom" };

/* Made by main() in the parent process and removed by it after the run, so
 * a test that fails half way (Check _exit()s its child) leaves nothing.
 * other_base is on another filesystem (/dev/shm), or NULL. */
static char *test_base;
static char *other_base;

struct fixture {
	char *tmp;
	char *other; /* a tmpdir holding the bottom branch, or NULL */
	int fd[NB]; /* O_RDONLY|O_DIRECTORY on each branch root */
	struct uf_fs *fs;
};

enum kind {
	NONE,
	FILE_, /* regular file */
	DIR_,
	LINK,
	FIFO,
	WH,   /* char 0/0 whiteout (root only) */
	AUFS, /* an aufs ".wh.NAME" file */
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -errno : 0;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

static void make(int dirfd, const char *name, enum kind k)
{
	int r = 0;

	switch (k) {
	case NONE:
		return;
	case FILE_: {
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		r = fd < 0 ? -errno : 0;
		if (fd >= 0) {
			ck_assert_int_eq(write(fd, name, strlen(name)), (ssize_t)strlen(name));
			close(fd);
		}
		break;
	}
	case DIR_:
		r = mkdirat(dirfd, name, 0755) < 0 ? -errno : 0;
		break;
	case LINK:
		r = symlinkat("target-of-link", dirfd, name) < 0 ? -errno : 0;
		break;
	case FIFO:
		r = mkfifoat(dirfd, name, 0644) < 0 ? -errno : 0;
		break;
	case WH:
		r = mknodat(dirfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0 ? -errno : 0;
		break;
	case AUFS: {
		g_autofree char *wh = g_strconcat(UF_WH_PREFIX, name, NULL);
		make(dirfd, wh, FILE_);
		return;
	}
	}
	ck_assert_msg(r == 0, "create '%s' (kind %d): %s", name, k, g_strerror(-r));
}

/* A whiteout in whatever form this process may create. */
static void make_whiteout(int dirfd, const char *name)
{
	make(dirfd, name, is_root() ? WH : AUFS);
}

/* Three branches in a tmpdir; with @other_fs, the bottom one in a tmpdir on
 * another filesystem instead. */
static void fixture_setup(struct fixture *f, bool has_upper, bool other_fs)
{
	struct uf_config c = {
		.branches = g_ptr_array_new_with_free_func(g_free),
		.has_upper = has_upper,
		.read_only = !has_upper,
		.timeout = 1,
	};
	char *msg = NULL;

	f->tmp = g_build_filename(test_base, "XXXXXX", NULL);
	ck_assert_ptr_nonnull(mkdtemp(f->tmp));
	f->other = NULL;
	if (other_fs) {
		f->other = g_build_filename(other_base, "XXXXXX", NULL);
		ck_assert_ptr_nonnull(mkdtemp(f->other));
	}
	for (unsigned i = 0; i < NB; i++) {
		const char *base = f->other && i == NB - 1 ? f->other : f->tmp;
		char *p = g_build_filename(base, branch_names[i], NULL);
		ck_assert_int_eq(mkdir(p, 0755), 0);
		f->fd[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(f->fd[i], 0);
		g_ptr_array_add(c.branches, p);
	}
	int r = uf_fs_new(&c, &f->fs, &msg);
	ck_assert_msg(r == 0, "uf_fs_new: %d %s", r, msg ? msg : "");
	ck_assert_uint_eq(f->fs->n_branches, NB);
	ck_assert(has_upper == (f->fs->upper != NULL));
	uf_config_done(&c);
}

static void fixture_teardown(struct fixture *f)
{
	uf_fs_free(f->fs);
	for (unsigned i = 0; i < NB; i++)
		close(f->fd[i]);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (f->other)
		nftw(f->other, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(f->tmp);
	g_free(f->other);
}

/* The st_ino the union must show for @name under @dirfd. */
static ino_t want_ino(struct uf_fs *fs, int dirfd, const char *name)
{
	struct stat st;

	ck_assert_msg(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, "stat '%s': %s", name,
		      g_strerror(errno));
	struct uf_key key = { st.st_dev, st.st_ino };
	return uf_st_ino(fs, &key);
}

static const struct uf_dirent *listing_find(const struct uf_listing *l, const char *name,
					    unsigned *ret_count)
{
	const struct uf_dirent *found = NULL;
	unsigned n = 0;

	for (guint i = 0; i < l->entries->len; i++) {
		const struct uf_dirent *e = &g_array_index(l->entries, struct uf_dirent, i);
		if (strcmp(e->name, name) == 0) {
			found = found ? found : e;
			n++;
		}
	}
	*ret_count = n;
	return found;
}

/* "." and ".." first, then no name twice, no ".wh." name, no whiteout. */
static void check_listing_shape(const struct uf_listing *l, ino_t self, ino_t parent)
{
	g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);

	ck_assert_uint_ge(l->entries->len, 2);
	const struct uf_dirent *dot = &g_array_index(l->entries, struct uf_dirent, 0);
	const struct uf_dirent *dotdot = &g_array_index(l->entries, struct uf_dirent, 1);
	ck_assert_str_eq(dot->name, ".");
	ck_assert_uint_eq(dot->ino, self);
	ck_assert_uint_eq(dot->type, DT_DIR);
	ck_assert_str_eq(dotdot->name, "..");
	ck_assert_uint_eq(dotdot->ino, parent);
	ck_assert_uint_eq(dotdot->type, DT_DIR);

	for (guint i = 2; i < l->entries->len; i++) {
		const struct uf_dirent *e = &g_array_index(l->entries, struct uf_dirent, i);
		ck_assert_msg(strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0,
			      "'%s' listed again at %u", e->name, i);
		ck_assert_msg(!uf_is_wh_name(e->name), "'%s' listed", e->name);
		ck_assert_msg(e->type != DT_CHR, "'%s' listed as a char device", e->name);
		ck_assert_msg(g_hash_table_add(names, (gpointer)e->name), "'%s' listed twice",
			      e->name);
	}
}

/* The root of the union, row by row. */
struct row {
	const char *name;
	enum kind k[NB];
	int top;            /* branch shown, or -1: hidden */
	unsigned char type; /* DT_* when shown */
};

static const struct row rows[] = {
	{ "all3", { FILE_, FILE_, FILE_ }, 0, DT_REG },
	{ "upmid", { FILE_, FILE_, NONE }, 0, DT_REG },
	{ "midbot", { NONE, FILE_, FILE_ }, 1, DT_REG },
	{ "botonly", { NONE, NONE, FILE_ }, 2, DT_REG },
	{ "uponly", { FILE_, NONE, NONE }, 0, DT_REG },
	{ "midlink", { NONE, LINK, NONE }, 1, DT_LNK },
	{ "fifo", { FIFO, NONE, NONE }, 0, DT_FIFO },
	{ "dir_merged", { DIR_, NONE, DIR_ }, 0, DT_DIR },
	{ "dir_bot", { NONE, NONE, DIR_ }, 2, DT_DIR },
	{ "dir_mid", { NONE, DIR_, DIR_ }, 1, DT_DIR },
	{ "file_over_dir", { FILE_, NONE, DIR_ }, 0, DT_REG },
	{ "dir_over_file", { DIR_, FILE_, NONE }, 0, DT_DIR },
	{ "link_over_file", { NONE, LINK, FILE_ }, 1, DT_LNK },
	/* char 0/0 whiteouts (root only) */
	{ "wh_up", { WH, NONE, FILE_ }, -1, 0 },
	{ "wh_up_mid", { WH, FILE_, FILE_ }, -1, 0 },
	{ "wh_up_dir", { WH, DIR_, DIR_ }, -1, 0 },
	{ "wh_up_alone", { WH, NONE, NONE }, -1, 0 },
	{ "wh_mid", { NONE, WH, DIR_ }, -1, 0 },
	{ "wh_mid_under_file", { FILE_, WH, FILE_ }, 0, DT_REG },
	/* aufs ".wh.NAME": hides NAME in the branches below its own */
	{ "aufs_up", { AUFS, NONE, FILE_ }, -1, 0 },
	{ "aufs_mid", { NONE, AUFS, FILE_ }, -1, 0 },
	{ "aufs_mid_dir", { NONE, AUFS, DIR_ }, -1, 0 },
	{ "aufs_mid_under_file", { FILE_, AUFS, FILE_ }, 0, DT_REG },
	{ "aufs_alone", { NONE, AUFS, NONE }, -1, 0 },
	{ ".dotfile", { NONE, AUFS, FILE_ }, -1, 0 }, /* ".wh..dotfile" */
	{ ".dotvis", { NONE, NONE, FILE_ }, 2, DT_REG },
};

static bool row_needs_root(const struct row *r)
{
	for (unsigned b = 0; b < NB; b++)
		if (r->k[b] == WH)
			return true;
	return false;
}

static void fill_root(struct fixture *f)
{
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		if (row_needs_root(&rows[i]) && !is_root())
			continue;
		for (unsigned b = 0; b < NB; b++)
			make(f->fd[b], rows[i].name, rows[i].k[b]);
	}
	/* Format names that are never listed and hide nothing here: the
	 * opaque marker (ignored on a branch root, as by the kernel), aufs
	 * internal names, and an aufs whiteout in the bottom branch. */
	make(f->fd[1], UF_WH_OPAQUE, FILE_);
	make(f->fd[2], ".wh..wh.plnk", DIR_);
	make(f->fd[2], ".wh..wh.aufs", FILE_);
	make(f->fd[2], ".wh.botwh", FILE_);
}

START_TEST(test_readdir_root)
{
	static const struct {
		bool has_upper;
		bool other_fs;
	} variants[] = {
		{ true, false },  /* upper + two lowers */
		{ false, false }, /* read-only: three lowers */
		{ true, true },   /* the bottom on another filesystem */
	};
	const bool has_upper = variants[_i].has_upper;
	const bool other_fs = variants[_i].other_fs;
	struct uf_layers *L = g_new0(struct uf_layers, 1);
	struct uf_listing *l = NULL;
	struct fixture f;
	unsigned visible = 0;

	if (other_fs && !other_base) {
		fprintf(stderr, "test_readdir_root: no other filesystem, skipped\n");
		g_free(L);
		return;
	}
	if (!is_root())
		fprintf(stderr, "test_readdir_root: not root, char 0/0 whiteout rows skipped\n");
	fixture_setup(&f, has_upper, other_fs);
	fill_root(&f);

	uf_inode_layers(f.fs->root, L);
	ck_assert_uint_eq(L->n, NB);
	for (unsigned b = 0; b < NB; b++)
		ck_assert_uint_eq(L->v[b].branch, b);

	ck_assert_int_eq(uf_readdir_merge(f.fs, L, 1, 1, &l), 0);
	ck_assert_ptr_nonnull(l);
	check_listing_shape(l, 1, 1);

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		const struct row *r = &rows[i];
		unsigned count;

		if (row_needs_root(r) && !is_root())
			continue;
		const struct uf_dirent *e = listing_find(l, r->name, &count);
		if (r->top < 0) {
			ck_assert_msg(count == 0, "hidden '%s' listed %u times", r->name, count);
			continue;
		}
		visible++;
		ck_assert_msg(count == 1, "'%s' listed %u times, want once", r->name, count);
		ck_assert_msg(e->type == r->type, "'%s': d_type %u, want %u", r->name, e->type,
			      r->type);
		ino_t want = want_ino(f.fs, f.fd[r->top], r->name);
		ck_assert_msg(e->ino == want, "'%s': ino %ju, want %ju (from %s)", r->name,
			      (uintmax_t)e->ino, (uintmax_t)want, branch_names[r->top]);
		if (f.other && r->top == NB - 1) {
			/* Not the upper's device: mapped, so it can't collide. */
			struct stat real;
			ck_assert_int_eq(
				fstatat(f.fd[r->top], r->name, &real, AT_SYMLINK_NOFOLLOW), 0);
			ck_assert_msg(e->ino != real.st_ino, "'%s': st_ino not mapped", r->name);
		}
	}
	ck_assert_msg(l->entries->len == 2 + visible, "%u entries, want %u", l->entries->len,
		      2 + visible);

	/* uf_namei() agrees with the listing. */
	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		const struct row *r = &rows[i];
		struct uf_inode *ino = NULL, *again = NULL;
		struct stat st, st2;
		unsigned count;

		if (row_needs_root(r) && !is_root())
			continue;
		int rc = uf_namei(f.fs, f.fs->root, r->name, &ino, &st);
		if (r->top < 0) {
			ck_assert_msg(rc == -ENOENT, "namei hidden '%s' = %d, want -ENOENT",
				      r->name, rc);
			continue;
		}
		ck_assert_msg(rc == 0, "namei '%s' = %d", r->name, rc);
		const struct uf_dirent *e = listing_find(l, r->name, &count);
		ck_assert_msg(st.st_ino == e->ino, "'%s': namei st_ino %ju, listing %ju", r->name,
			      (uintmax_t)st.st_ino, (uintmax_t)e->ino);
		ck_assert_msg((st.st_mode & S_IFMT) == (mode_t)DTTOIF(r->type), "'%s': mode %o",
			      r->name, (unsigned)st.st_mode);
		ck_assert_uint_eq(ino->type, DTTOIF(r->type));

		/* A second lookup finds the same inode and counts again. */
		ck_assert_int_eq(uf_namei(f.fs, f.fs->root, r->name, &again, &st2), 0);
		ck_assert_ptr_eq(again, ino);
		ck_assert_uint_eq(st2.st_ino, st.st_ino);
		uf_inode_forget(f.fs, again, 1);
		uf_inode_forget(f.fs, ino, 1);
	}
	/* Every lookup forgotten: the table is empty again. */
	ck_assert_uint_eq(g_hash_table_size(f.fs->inodes), 0);

	/* Names that exist only as format. */
	static const char *const absent[] = {
		".wh.aufs_mid", UF_WH_OPAQUE, ".wh..wh.plnk", ".wh.botwh", "botwh",
		"nonexistent",  "aufs_alone",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(absent); i++) {
		struct uf_inode *ino = NULL;
		struct stat st;
		unsigned count;

		ck_assert_msg(uf_namei(f.fs, f.fs->root, absent[i], &ino, &st) == -ENOENT,
			      "namei '%s' != -ENOENT", absent[i]);
		listing_find(l, absent[i], &count);
		ck_assert_msg(count == 0, "'%s' listed", absent[i]);
	}

	/* Up to NAME_MAX a missing name is -ENOENT; past it -ENAMETOOLONG. */
	char longname[301];
	struct uf_inode *ino = NULL;
	struct stat st;
	memset(longname, 'x', 300);
	longname[255] = '\0';
	ck_assert_int_eq(uf_namei(f.fs, f.fs->root, longname, &ino, &st), -ENOENT);
	longname[255] = 'x';
	longname[300] = '\0';
	ck_assert_int_eq(uf_namei(f.fs, f.fs->root, longname, &ino, &st), -ENAMETOOLONG);

	uf_listing_free(l);
	g_free(L);
	fixture_teardown(&f);
}
END_TEST

/* readdir.h: whiteouts are hidden. A char 0/0 in the bottom branch is one
 * too: the kernel overlayfs neither lists it in a merged directory nor finds
 * it by name. Kept apart so it cannot mask the cases above. */
START_TEST(test_readdir_bottom_whiteout)
{
	struct uf_layers *L = g_new0(struct uf_layers, 1);
	struct uf_listing *l = NULL;
	struct uf_inode *ino = NULL;
	struct fixture f;
	struct stat st;
	unsigned count;

	if (!is_root()) {
		fprintf(stderr, "test_readdir_bottom_whiteout: not root, skipped\n");
		g_free(L);
		return;
	}
	fixture_setup(&f, true, false);
	make(f.fd[0], "top", FILE_);
	make(f.fd[2], "wh_bottom", WH);

	uf_inode_layers(f.fs->root, L);
	ck_assert_int_eq(uf_readdir_merge(f.fs, L, 1, 1, &l), 0);
	listing_find(l, "top", &count);
	ck_assert_uint_eq(count, 1);
	listing_find(l, "wh_bottom", &count);
	ck_assert_msg(count == 0, "bottom whiteout 'wh_bottom' listed");
	int r = uf_namei(f.fs, f.fs->root, "wh_bottom", &ino, &st);
	if (r == 0)
		uf_inode_forget(f.fs, ino, 1);
	ck_assert_msg(r == -ENOENT, "namei bottom whiteout = %d, want -ENOENT", r);

	uf_listing_free(l);
	g_free(L);
	fixture_teardown(&f);
}
END_TEST

/* Look @name up in @dir, merge its layers, and check the listing holds
 * exactly @want (NULL-terminated) with the right inos. Returns the inode
 * (one lookup counted). */
static struct uf_inode *check_subdir(struct fixture *f, struct uf_inode *dir, const char *name,
				     const char *const *want)
{
	struct uf_layers *L = g_new0(struct uf_layers, 1);
	struct uf_listing *l = NULL;
	struct uf_inode *ino = NULL;
	struct stat st;
	size_t n = 0;

	ck_assert_msg(uf_namei(f->fs, dir, name, &ino, &st) == 0, "namei '%s'", name);
	ck_assert(S_ISDIR(st.st_mode));
	uf_inode_layers(ino, L);
	ck_assert_int_eq(uf_readdir_merge(f->fs, L, st.st_ino, 1, &l), 0);
	check_listing_shape(l, st.st_ino, 1);

	for (; want[n]; n++) {
		unsigned count;
		struct uf_inode *child = NULL;
		struct stat cst;
		const struct uf_dirent *e = listing_find(l, want[n], &count);

		ck_assert_msg(count == 1, "%s/%s listed %u times", name, want[n], count);
		ck_assert_msg(uf_namei(f->fs, ino, want[n], &child, &cst) == 0, "namei %s/%s",
			      name, want[n]);
		ck_assert_msg(cst.st_ino == e->ino, "%s/%s: st_ino %ju, listing %ju", name,
			      want[n], (uintmax_t)cst.st_ino, (uintmax_t)e->ino);
		ck_assert_uint_eq(IFTODT(cst.st_mode), e->type);
		uf_inode_forget(f->fs, child, 1);
	}
	ck_assert_msg(l->entries->len == 2 + n, "%s: %u entries, want %zu", name,
		      l->entries->len, 2 + n);
	ck_assert_int_eq(uf_dir_is_empty(f->fs, ino), n == 0);

	uf_listing_free(l);
	g_free(L);
	return ino;
}

static void check_absent(struct fixture *f, struct uf_inode *dir, const char *const *names)
{
	for (size_t i = 0; names[i]; i++) {
		struct uf_inode *ino = NULL;
		struct stat st;
		int r = uf_namei(f->fs, dir, names[i], &ino, &st);
		ck_assert_msg(r == -ENOENT, "namei '%s' = %d, want -ENOENT", names[i], r);
	}
}

START_TEST(test_readdir_subdirs)
{
	struct fixture f;
	int d[NB];

	fixture_setup(&f, true, false);

	/* d: merged from all three. */
	for (unsigned b = 0; b < NB; b++) {
		make(f.fd[b], "d", DIR_);
		d[b] = openat(f.fd[b], "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(d[b], 0);
	}
	make(d[0], "a", FILE_);
	make_whiteout(d[0], "b");
	make(d[0], "c", AUFS);
	make(d[1], "b", FILE_);
	make(d[1], "c", FILE_);
	make(d[1], "m", DIR_);
	make(d[2], "a", FILE_);
	make(d[2], "b", FILE_);
	make(d[2], "c", FILE_);
	make(d[2], "z", LINK);
	for (unsigned b = 0; b < NB; b++)
		close(d[b]);

	/* o: upper marked opaque by uf_dir_set_opaque(); nothing from below. */
	make(f.fd[0], "o", DIR_);
	make(f.fd[1], "o", DIR_);
	make(f.fd[2], "o", DIR_);
	int ofd = openat(f.fd[0], "o", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_eq(uf_dir_set_opaque(f.fs, ofd), 0);
	close(ofd);
	ck_assert_int_eq(mknodat(f.fd[1], "o/x", S_IFREG | 0644, 0), 0);
	ck_assert_int_eq(mknodat(f.fd[2], "o/y", S_IFREG | 0644, 0), 0);

	/* p: mid marked opaque by ".wh..wh..opq"; bottom's entries hidden. */
	make(f.fd[0], "p", DIR_);
	make(f.fd[1], "p", DIR_);
	make(f.fd[2], "p", DIR_);
	ck_assert_int_eq(mknodat(f.fd[0], "p/u", S_IFREG | 0644, 0), 0);
	ck_assert_int_eq(mknodat(f.fd[1], "p/" UF_WH_OPAQUE, S_IFREG | 0644, 0), 0);
	ck_assert_int_eq(mknodat(f.fd[1], "p/q", S_IFREG | 0644, 0), 0);
	ck_assert_int_eq(mknodat(f.fd[2], "p/r", S_IFREG | 0644, 0), 0);

	/* bd: only in the bottom; e: empty everywhere. */
	make(f.fd[2], "bd", DIR_);
	ck_assert_int_eq(mknodat(f.fd[2], "bd/k", S_IFREG | 0644, 0), 0);
	make(f.fd[0], "e", DIR_);
	make(f.fd[2], "e", DIR_);
	/* w: everything in it whited out; empty. */
	make(f.fd[0], "w", DIR_);
	make(f.fd[2], "w", DIR_);
	int wfd = openat(f.fd[0], "w", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(wfd, 0);
	make_whiteout(wfd, "gone");
	close(wfd);
	ck_assert_int_eq(mknodat(f.fd[2], "w/gone", S_IFREG | 0644, 0), 0);

	static const char *const d_want[] = { "a", "m", "z", NULL };
	static const char *const d_absent[] = { "b", "c", ".wh.b", ".wh.c", NULL };
	static const char *const o_want[] = { NULL };
	static const char *const o_absent[] = { "x", "y", NULL };
	static const char *const p_want[] = { "u", "q", NULL };
	static const char *const p_absent[] = { "r", UF_WH_OPAQUE, NULL };
	static const char *const bd_want[] = { "k", NULL };
	static const char *const e_want[] = { NULL };

	struct uf_inode *di = check_subdir(&f, f.fs->root, "d", d_want);
	check_absent(&f, di, d_absent);
	struct uf_inode *oi = check_subdir(&f, f.fs->root, "o", o_want);
	check_absent(&f, oi, o_absent);
	struct uf_inode *pi = check_subdir(&f, f.fs->root, "p", p_want);
	check_absent(&f, pi, p_absent);
	struct uf_inode *bdi = check_subdir(&f, f.fs->root, "bd", bd_want);
	struct uf_inode *ei = check_subdir(&f, f.fs->root, "e", e_want);
	static const char *const w_absent[] = { "gone", ".wh.gone", NULL };
	struct uf_inode *wi = check_subdir(&f, f.fs->root, "w", e_want);
	check_absent(&f, wi, w_absent);

	/* d/m: a dir only in mid, one level down. */
	static const char *const m_want[] = { NULL };
	struct uf_inode *mi = check_subdir(&f, di, "m", m_want);

	uf_inode_forget(f.fs, mi, 1);
	uf_inode_forget(f.fs, wi, 1);
	uf_inode_forget(f.fs, ei, 1);
	uf_inode_forget(f.fs, bdi, 1);
	uf_inode_forget(f.fs, pi, 1);
	uf_inode_forget(f.fs, oi, 1);
	uf_inode_forget(f.fs, di, 1);
	ck_assert_uint_eq(g_hash_table_size(f.fs->inodes), 0);
	fixture_teardown(&f);
}
END_TEST

static Suite *readdir_suite(void)
{
	Suite *s = suite_create("readdir");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_readdir_root, 0, 3); /* variants[] */
	tcase_add_test(tc, test_readdir_subdirs);
	tcase_add_test(tc, test_readdir_bottom_whiteout);
	suite_add_tcase(s, tc);
	return s;
}

/* A tmpdir under @dir if @dir is writable and on another filesystem than
 * test_base; else NULL. */
static char *other_fs_base(const char *dir)
{
	struct stat a, b;

	if (stat(test_base, &a) < 0 || stat(dir, &b) < 0 || a.st_dev == b.st_dev)
		return NULL;
	char *p = g_build_filename(dir, "uf-test-readdir-XXXXXX", NULL);
	if (!mkdtemp(p)) {
		g_free(p);
		return NULL;
	}
	return p;
}

int main(void)
{
	test_base = g_build_filename(g_get_tmp_dir(), "uf-test-readdir-XXXXXX", NULL);
	if (!mkdtemp(test_base)) {
		fprintf(stderr, "mkdtemp %s: %s\n", test_base, g_strerror(errno));
		return EXIT_FAILURE;
	}
	other_base = other_fs_base("/dev/shm");

	SRunner *sr = srunner_create(readdir_suite());

	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(test_base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (other_base)
		nftw(other_base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(test_base);
	g_free(other_base);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
