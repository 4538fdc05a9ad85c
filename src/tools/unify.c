/* unionfuse unify --store STORE SANDBOX...: move the regular files that
 * several sandboxes' uppers hold alike into one content-addressed store, a
 * data-only branch (composefs layout STORE/objects/XX/REST, the sha256 of
 * the content), and leave in each sandbox a metadata-only stub in a branch
 * of its own just below its upper, UPPER.stubs (unionfuse-unify(8)).
 *
 * A stub is what the kernel overlayfs takes for a metacopy file: a regular
 * file of the right size with no data, marked overlay.metacopy (empty) and
 * overlay.redirect "/objects/XX/REST"; it keeps the file's owner, mode,
 * times and xattrs, the store only its data. It cannot stay in the upper
 * (the kernel does not follow an upper's absolute redirect to a data-only
 * branch: EIO), so the upper's file is removed and the stub below shows
 * through. Only what the union shows the same afterwards is moved: regular
 * files with one link, no overlay.* xattr (already a metacopy, a copy-up
 * with an origin), at least --min-size bytes, under no opaque or redirected
 * upper directory (a stub there would not show, or elsewhere).
 *
 * Crash safety, per file: the object is made as an unnamed file, synced
 * and linked (one present is checked, and replaced if it is not what its
 * name says); then the stub the same way (replacing one a crashed run left);
 * then the upper's file is removed. A crash leaves the upper file (the view
 * unchanged) or the stub in place; a run again completes the work, and a
 * run with nothing left to do changes nothing. Refused while a mount uses
 * an upper: each daemon holds flock(LOCK_EX) on its upper (super.c); this
 * takes it too, for the whole run. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/layer/format.h"
#include "unionfuse/layer/whiteout.h"
#include "unionfuse/layer/xattr.h"
#include "unionfuse/params.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

#define UNIFY_DEPTH_MAX 512
#define COPY_BUF (1 << 20)

struct sandbox {
	char *spec;	   /* as given */
	char *upper;	   /* absolute */
	char *stubs;	   /* UPPER.stubs */
	char *work;	   /* UPPER.work */
	GPtrArray *lowers; /* absolute, top-first */
	int upper_fd;
	int stubs_fd;
};

/* A candidate file in a sandbox's upper. */
struct cand {
	struct sandbox *sb;
	char *path; /* relative to the upper */
	struct stat st;
	char hash[65];
};

struct unify {
	const char *prefix; /* "trusted.overlay." or "user.overlay." */
	struct uf_layer_fmt fmt;
	off_t min_size;
	int store_fd;
	int objects_fd;
	GPtrArray *cands; /* struct cand * */
	unsigned moved, skipped, objects_new;
	unsigned long long bytes_moved;
	int status;
};

static void cand_free(gpointer p)
{
	struct cand *c = p;

	g_free(c->path);
	g_free(c);
}

static void sandbox_free(struct sandbox *sb)
{
	g_free(sb->spec);
	g_free(sb->upper);
	g_free(sb->stubs);
	g_free(sb->work);
	if (sb->lowers)
		g_ptr_array_unref(sb->lowers);
	if (sb->upper_fd >= 0)
		close(sb->upper_fd);
	if (sb->stubs_fd >= 0)
		close(sb->stubs_fd);
}

/* Has @fd an xattr of the format's (@prefix) namespace, or of the other's
 * (a layer made with -o userxattr)? Either makes it no plain file. */
static bool has_overlay_xattr(int fd)
{
	char *list = NULL;
	ssize_t n = uf_xlist_all(&(struct uf_xobj){ .fd = fd }, &list);

	for (ssize_t i = 0; i < n; i += strlen(list + i) + 1)
		if (g_str_has_prefix(list + i, "trusted.overlay.") ||
		    g_str_has_prefix(list + i, "user.overlay.")) {
			g_free(list);
			return true;
		}
	g_free(list);
	return n < 0; /* unreadable: leave it alone */
}

static int sha256_fd(int fd, char ret[65])
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree guchar *buf = g_malloc(COPY_BUF);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, COPY_BUF, off)) > 0) {
		g_checksum_update(sum, buf, n);
		off += n;
	}
	if (n < 0)
		return -errno;
	g_strlcpy(ret, g_checksum_get_string(sum), 65);
	return 0;
}

/* Open regular file @name under @dfd for reading, or fail: a name a user
 * swapped for a fifo or a device is never opened (that could block, or
 * act on a device). Returns the fd or -errno. */
static int open_regular(int dfd, const char *name)
{
	_cleanup_close_ int p = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char path[UF_PROC_FD_MAX];
	struct stat st;

	if (p < 0 || fstat(p, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	uf_proc_fd(path, p);
	return uf_neg_errno(open(path, O_RDONLY | O_CLOEXEC));
}

/* Walk upper dir @dfd (at @path) of @sb, collecting candidates. */
static void walk(struct unify *u, struct sandbox *sb, int dfd, const char *path, unsigned depth)
{
	g_autoptr(GPtrArray) names = NULL;

	if (depth > UNIFY_DEPTH_MAX || uf_tool_list_dir(dfd, NULL, &names) < 0) {
		fprintf(stderr, "unionfuse unify: cannot read '%s/%s'\n", sb->upper, path);
		u->status = 1;
		return;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		g_autofree char *p = uf_tool_join(path, name);
		struct stat st;

		if (uf_is_wh_name(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
			    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			g_autofree char *rd = NULL;
			if (sub < 0)
				continue;
			/* Below an opaque or redirected dir a stub would not
			 * show at its name: leave the whole subtree. */
			if (uf_layer_dir_is_opaque(&u->fmt, sub) ||
			    uf_layer_dir_get_redirect(&u->fmt, sub, &rd) != 0 || rd) {
				u->skipped++;
				continue;
			}
			walk(u, sb, sub, p, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (st.st_nlink > 1 || st.st_size < u->min_size || st.st_size == 0) {
			u->skipped++;
			continue;
		}
		_cleanup_close_ int fd = open_regular(dfd, name);
		struct cand *c = g_new0(struct cand, 1);
		if (fd < 0 || has_overlay_xattr(fd) || fstat(fd, &c->st) < 0 ||
		    sha256_fd(fd, c->hash) < 0) {
			u->skipped++;
			g_free(c);
			continue;
		}
		c->sb = sb;
		c->path = g_steal_pointer(&p);
		g_ptr_array_add(u->cands, c);
	}
}

/* Copy all of @src to @dst; returns 0 or -errno. */
static int copy_all(int src, int dst)
{
	g_autofree char *buf = g_malloc(COPY_BUF);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(src, buf, COPY_BUF, off)) > 0) {
		for (ssize_t w = 0; w < n;) {
			ssize_t k = pwrite(dst, buf + w, n - w, off + w);
			if (k < 0)
				return -errno;
			w += k;
		}
		off += n;
	}
	return n < 0 ? -errno : 0;
}

/* Link unnamed file @fd as @name in @dirfd, replacing what is there, and
 * make the name durable. Returns 0 or -errno. */
static int link_replace(int fd, int dirfd, const char *name)
{
	char path[UF_PROC_FD_MAX];

	uf_proc_fd(path, fd);
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return uf_neg_errno(fsync(dirfd));
}

/* Make sure STORE/objects/XX/REST holds the content of @src (hash @hash).
 * Returns 0 or -errno. */
static int put_object(struct unify *u, int src, const char *hash)
{
	char sub[3] = { hash[0], hash[1], '\0' };
	const char *rest = hash + 2;

	if (mkdirat(u->objects_fd, sub, 0755) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int dfd =
	    openat(u->objects_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	_cleanup_close_ int old = open_regular(dfd, rest);
	struct stat st;
	char have[65];
	if (old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode) && sha256_fd(old, have) == 0 &&
	    strcmp(have, hash) == 0)
		return 0; /* present and verified */
	if (old >= 0)
		fprintf(stderr,
			"unionfuse unify: object %s/%s is not what its name says: "
			"replacing it\n",
			sub, rest);
	_cleanup_close_ int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	int r = copy_all(src, fd);
	if (r == 0 && sha256_fd(fd, have) == 0 && strcmp(have, hash) != 0)
		r = -EAGAIN; /* the file changed under us */
	if (r == 0)
		r = uf_neg_errno(fchmod(fd, 0444));
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	if (r == 0)
		r = link_replace(fd, dfd, rest);
	if (r == 0)
		u->objects_new++;
	return r;
}

/* Open (making it like the upper's @updir) dir @name under stub dir @sdfd. */
static int stub_subdir(int sdfd, const char *name, int updir)
{
	struct stat st;

	if (fstat(updir, &st) < 0)
		return -errno;
	if (mkdirat(sdfd, name, 0700) == 0) {
		int fd = openat(sdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
		    fsync(sdfd) < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		return fd;
	}
	if (errno != EEXIST)
		return -errno;
	return uf_neg_errno(openat(sdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

/* Write the stub of @c (the upper's file open as @src) into the stub
 * branch. Returns 0 or -errno. */
static int put_stub(struct unify *u, struct cand *c, int src, const char *name, int sdfd)
{
	g_autofree char *rd = g_strdup_printf("/objects/%.2s/%s", c->hash, c->hash + 2);
	g_autofree char *mc = g_strconcat(u->prefix, "metacopy", NULL);
	g_autofree char *rx = g_strconcat(u->prefix, "redirect", NULL);
	struct timespec ts[2] = { c->st.st_atim, c->st.st_mtim };

	_cleanup_close_ int fd = openat(sdfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = uf_neg_errno(ftruncate(fd, c->st.st_size));
	/* Owner before mode (chown clears setuid), xattrs after chown (it
	 * clears security.capability), times last. */
	if (r == 0)
		r = uf_neg_errno(fchown(fd, c->st.st_uid, c->st.st_gid));
	if (r == 0)
		r = uf_neg_errno(fchmod(fd, c->st.st_mode & 07777));
	if (r == 0)
		r = uf_layer_copy_xattrs(u->prefix, &(struct uf_xobj){ .fd = src },
					 &(struct uf_xobj){ .fd = fd });
	if (r == 0)
		r = uf_neg_errno(fsetxattr(fd, mc, "", 0, 0));
	if (r == 0)
		r = uf_neg_errno(fsetxattr(fd, rx, rd, strlen(rd), 0));
	if (r == 0)
		r = uf_neg_errno(futimens(fd, ts));
	if (r == 0)
		r = uf_neg_errno(fsync(fd));
	if (r == 0)
		r = link_replace(fd, sdfd, name);
	return r;
}

/* Move candidate @c: object, stub, then the upper's file. */
static int unify_one(struct unify *u, struct cand *c)
{
	struct sandbox *sb = c->sb;
	g_auto(GStrv) comp = g_strsplit(c->path, "/", -1);
	guint n = g_strv_length(comp);
	_cleanup_close_ int up = fcntl(sb->upper_fd, F_DUPFD_CLOEXEC, 0);
	_cleanup_close_ int st = fcntl(sb->stubs_fd, F_DUPFD_CLOEXEC, 0);
	int r;

	for (guint i = 0; i + 1 < n; i++) {
		int nup = openat(up, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nup < 0)
			return -errno;
		close(up);
		up = nup;
		int nst = stub_subdir(st, comp[i], up);
		if (nst < 0)
			return nst;
		close(st);
		st = nst;
	}
	const char *name = comp[n - 1];
	_cleanup_close_ int src = open_regular(up, name);
	struct stat now;
	if (src < 0)
		return src;
	if (fstat(src, &now) < 0)
		return -errno;
	/* The file hashed is the file moved (the upper is locked, but a
	 * process may write it directly). */
	if (now.st_ino != c->st.st_ino || now.st_nlink != 1 || now.st_size != c->st.st_size ||
	    now.st_mtim.tv_sec != c->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != c->st.st_mtim.tv_nsec)
		return -EAGAIN;
	r = put_object(u, src, c->hash);
	if (r == 0)
		r = put_stub(u, c, src, name, st);
	if (r == 0)
		r = uf_neg_errno(unlinkat(up, name, 0));
	if (r == 0)
		r = uf_neg_errno(fsync(up));
	return r;
}

static int cmp_cand(gconstpointer a, gconstpointer b)
{
	const struct cand *x = *(struct cand *const *)a, *y = *(struct cand *const *)b;
	int r = strcmp(x->hash, y->hash);

	return r ? r : strcmp(x->path, y->path);
}

/* Is the object of @hash in the store already? */
static bool in_store(struct unify *u, const char *hash)
{
	g_autofree char *p = g_strdup_printf("%.2s/%s", hash, hash + 2);
	struct stat st;

	return fstatat(u->objects_fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* @s with ':' ',' and '\' escaped by '\', for an overlayfs option value. */
static char *escape(const char *s)
{
	GString *e = g_string_new(NULL);

	for (; *s; s++) {
		if (*s == ':' || *s == ',' || *s == '\\')
			g_string_append_c(e, '\\');
		g_string_append_c(e, *s);
	}
	return g_string_free(e, false);
}

static int lock_upper(int fd)
{
	/* A mount just unmounted may still be tearing down: five seconds. */
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || i == 100)
			return -errno;
		g_usleep(50 * 1000);
	}
}

static int open_sandbox(struct sandbox *sb, const char *spec)
{
	g_autoptr(GPtrArray) parts = NULL;
	g_autofree char *err = NULL;
	struct stat st;

	sb->spec = g_strdup(spec);
	if (uf_params_split(spec, &parts, &err) < 0 || parts->len < 2) {
		fprintf(stderr, "unionfuse unify: '%s': %s\n", spec,
			err ? err : "give LOWER[:LOWER...]:UPPER");
		return -EINVAL;
	}
	sb->lowers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = parts->len; i-- > 0;) {
		char *real = realpath(parts->pdata[i], NULL);
		if (!real) {
			fprintf(stderr, "unionfuse unify: '%s': %s\n", (char *)parts->pdata[i],
				g_strerror(errno));
			return -errno;
		}
		if (i == parts->len - 1)
			sb->upper = g_strdup(real);
		else
			g_ptr_array_add(sb->lowers, g_strdup(real));
		free(real);
	}
	sb->stubs = g_strconcat(sb->upper, ".stubs", NULL);
	sb->work = g_strconcat(sb->upper, ".work", NULL);
	sb->upper_fd = open(sb->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sb->upper_fd < 0) {
		fprintf(stderr, "unionfuse unify: upper '%s': %s\n", sb->upper, g_strerror(errno));
		return -errno;
	}
	int r = lock_upper(sb->upper_fd);
	if (r < 0) {
		g_autofree char *who = NULL;
		if (r == -EWOULDBLOCK && fstat(sb->upper_fd, &st) == 0)
			who = uf_lock_holders(st.st_dev, st.st_ino, false);
		fprintf(stderr, "unionfuse unify: upper '%s' %s%s%s\n", sb->upper,
			r == -EWOULDBLOCK ? "is in use by " : "cannot be locked: ",
			r == -EWOULDBLOCK ? (who ? who : "another process") : g_strerror(-r),
			r == -EWOULDBLOCK ? ": unmount it first" : "");
		return r;
	}
	if (fstat(sb->upper_fd, &st) < 0)
		return -errno;
	if ((mkdir(sb->stubs, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(sb->work, 0700) < 0 && errno != EEXIST)) {
		fprintf(stderr, "unionfuse unify: cannot make '%s' or '%s': %s\n", sb->stubs,
			sb->work, g_strerror(errno));
		return -errno;
	}
	sb->stubs_fd = open(sb->stubs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sb->stubs_fd < 0) {
		fprintf(stderr, "unionfuse unify: '%s': %s\n", sb->stubs, g_strerror(errno));
		return -errno;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: unionfuse unify --store STORE [--min-size BYTES] [--userxattr]\n"
		"                       LOWER[:LOWER...]:UPPER...\n"
		"\n"
		"Move the regular files that the sandboxes' uppers hold alike into the\n"
		"content-addressed STORE (STORE/objects/XX/sha256-rest), leaving in each\n"
		"sandbox a metadata-only stub in UPPER.stubs, a branch just below UPPER.\n"
		"Prints per sandbox, in order, the options that mount it (unionfuse -o or\n"
		"mount -t overlay -o): lowerdir=UPPER.stubs:LOWERS::STORE,upperdir=UPPER,\n"
		"workdir=UPPER.work,metacopy=on. Refused while a mount uses an UPPER.\n"
		"\n"
		"    --store STORE     the store, a data-only branch (made if missing)\n"
		"    --min-size BYTES  leave smaller files (default 4096)\n"
		"    --userxattr       write user.overlay.* (default as root: trusted.overlay.*)\n"
		"    -h, --help        this help\n"
		"\n"
		"Exit status: 0 done, 1 some files could not be moved, 2 usage or setup error.\n");
}

int uf_tool_unify(int argc, char **argv)
{
	struct unify u = { .min_size = 4096, .store_fd = -1, .objects_fd = -1 };
	const char *store = NULL;
	g_autofree char *store_real = NULL, *es = NULL;
	bool userxattr = geteuid() != 0;
	int i, ret = 2;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
			store = argv[++i];
		} else if (strcmp(argv[i], "--min-size") == 0 && i + 1 < argc) {
			guint64 v;
			if (!g_ascii_string_to_unsigned(argv[++i], 10, 0, G_MAXINT64, &v, NULL)) {
				fprintf(stderr, "unionfuse unify: bad --min-size '%s'\n", argv[i]);
				return 2;
			}
			u.min_size = (off_t)v;
		} else if (strcmp(argv[i], "--userxattr") == 0) {
			userxattr = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "unionfuse unify: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!store || i >= argc) {
		fprintf(stderr, "unionfuse unify: give --store STORE and at least one sandbox\n");
		usage(stderr);
		return 2;
	}
	u.fmt = userxattr ? uf_layer_fmt_user : uf_layer_fmt_trusted;
	u.prefix = u.fmt.prefix;
	u.cands = g_ptr_array_new_with_free_func(cand_free);

	unsigned nsb = argc - i;
	struct sandbox *sbs = g_new0(struct sandbox, nsb);
	for (unsigned k = 0; k < nsb; k++)
		sbs[k].upper_fd = sbs[k].stubs_fd = -1;
	if (mkdir(store, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "unionfuse unify: store '%s': %s\n", store, g_strerror(errno));
		goto out;
	}
	store_real = realpath(store, NULL);
	u.store_fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!store_real || u.store_fd < 0 ||
	    (mkdirat(u.store_fd, "objects", 0755) < 0 && errno != EEXIST) ||
	    (u.objects_fd = openat(u.store_fd, "objects",
				   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "unionfuse unify: store '%s': %s\n", store, g_strerror(errno));
		goto out;
	}
	for (unsigned k = 0; k < nsb; k++)
		if (open_sandbox(&sbs[k], argv[i + k]) < 0)
			goto out;
	for (unsigned k = 0; k < nsb; k++)
		walk(&u, &sbs[k], sbs[k].upper_fd, "", 0);

	/* Content held more than once, or already in the store, moves. */
	g_ptr_array_sort(u.cands, cmp_cand);
	for (guint a = 0, b; a < u.cands->len; a = b) {
		struct cand *first = u.cands->pdata[a];
		for (b = a + 1; b < u.cands->len; b++)
			if (strcmp(((struct cand *)u.cands->pdata[b])->hash, first->hash) != 0)
				break;
		if (b - a < 2 && !in_store(&u, first->hash))
			continue;
		for (guint k = a; k < b; k++) {
			struct cand *c = u.cands->pdata[k];
			int r = unify_one(&u, c);
			if (r < 0) {
				fprintf(stderr, "unionfuse unify: '%s/%s': %s\n", c->sb->upper,
					c->path,
					r == -EAGAIN ? "changed while read" : g_strerror(-r));
				u.status = 1;
				continue;
			}
			u.moved++;
			u.bytes_moved += c->st.st_size;
		}
	}
	if (fsync(u.objects_fd) < 0)
		u.status = 1;

	es = escape(store_real);
	for (unsigned k = 0; k < nsb; k++) {
		g_autofree char *stubs = escape(sbs[k].stubs);
		g_autofree char *upper = escape(sbs[k].upper);
		g_autofree char *work = escape(sbs[k].work);
		printf("lowerdir=%s", stubs);
		for (guint l = 0; l < sbs[k].lowers->len; l++) {
			g_autofree char *e = escape(sbs[k].lowers->pdata[l]);
			printf(":%s", e);
		}
		/* metacopy=on: the kernel follows a metacopy file above the
		 * bottom plain lower only then (and so do we). */
		printf("::%s,upperdir=%s,workdir=%s,metacopy=on\n", es, upper, work);
	}
	fprintf(stderr,
		"unionfuse unify: %u files (%llu bytes) moved, %u new objects, %u files left\n",
		u.moved, u.bytes_moved, u.objects_new, u.skipped);
	ret = fflush(stdout) != 0 ? 2 : u.status;
out:
	for (unsigned k = 0; k < nsb; k++)
		sandbox_free(&sbs[k]);
	g_free(sbs);
	g_ptr_array_unref(u.cands);
	if (u.objects_fd >= 0)
		close(u.objects_fd);
	if (u.store_fd >= 0)
		close(u.store_fd);
	return ret;
}
