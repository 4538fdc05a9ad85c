/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsops -- seeded random filesystem operation generator for differential
 * testing (kernel overlayfs vs. unionfuse).
 *
 *   fsops SEED NOPS DIR     chroot into DIR and perform NOPS random
 *                           operations; print one line per operation:
 *                             <n> <op> <args> = <result>
 *                           result is 0 / a value, or -ERRNONAME.
 *                           With FSOPS_ONLY="1,5,7-9" only those operations
 *                           of the same sequence are executed (reduction).
 *                           With FSOPS_USERS="uid:gid[:g1/g2...],..." (at
 *                           most 3) half the operations run as one of these
 *                           users (setresuid/setresgid/setgroups, so
 *                           without root's capabilities; the log line ends
 *                           "as=UID"), modes include setuid/setgid, chown
 *                           uses their ids and xattr operations may name
 *                           security.capability. Without it the sequence
 *                           of a seed is the same as it always was.
 *   fsops --tree DIR        canonical listing of the tree below DIR (merged
 *                           view: path, type, mode, uid, gid, nlink, size,
 *                           sha256, symlink target, user.* xattrs; no
 *                           inode numbers, devices or times).
 *   fsops --raw DIR         exhaustive listing of a branch directory
 *                           (adds inode, rdev, mtime, ctime and xattrs of
 *                           every namespace) to prove it was not modified.
 *   fsops --format DIR      what the overlay format keeps in a branch: path,
 *                           type, mode and the trusted.overlay.redirect and
 *                           .opaque values (escaped), one line per entry.
 *                           With FSOPS_MIX=dirs the operations are mostly
 *                           mkdir, rename, rmdir, create and unlink, for
 *                           renamed directories (other seeds' sequences
 *                           are unchanged without it).
 *
 * The sequence of operations depends only on SEED: every random draw for an
 * operation happens before the operation is executed and no draw depends on
 * a result, so two runs against equivalent trees issue identical calls.
 *
 * Operations run after chroot(DIR), so symlinks containing ".." or absolute
 * targets can never escape the tree under test.
 *
 * Standalone: C11 + libc (Linux/glibc), build with -D_GNU_SOURCE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ------------------------------------------------------------------ PRNG */

static uint64_t rng_state;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* xorshift64* */
static uint64_t xs_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd(void) { return xs_next(&rng_state); }
static uint32_t rndn(uint32_t n) { return (uint32_t)(rnd() % n); }

static void fill_bytes(uint64_t seed, unsigned char *buf, size_t len)
{
	uint64_t st = seed | 1, v = 0;
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = xs_next(&st);
		buf[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

/* ----------------------------------------------------------- formatting */

static const char *errname(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* result string for a plain syscall return value */
static char res[8192];

static void set_res(long r)
{
	if (r < 0)
		snprintf(res, sizeof(res), "-%s", errname(errno));
	else
		snprintf(res, sizeof(res), "%ld", r);
}

static void set_err(int e) { snprintf(res, sizeof(res), "-%s", errname(e)); }

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static char type_char(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFIFO: return 'p';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFSOCK: return 's';
	default: return '?';
	}
}

/* --------------------------------------------------------- path choices */

static const char NAMES[] = "abcdefgh";

/*
 * A path of 1..3 components drawn from the name pool.  One time in three a
 * recently generated path is reused instead, so that operations often hit
 * names that earlier operations created (still a function of the seed only).
 */
#define RECENT 16
static char recent[RECENT][8];
static unsigned nrecent;

static void gen_fresh(char *buf)
{
	uint32_t r = rndn(100);
	int depth = r < 50 ? 1 : r < 85 ? 2 : 3;
	char *p = buf;
	for (int i = 0; i < depth; i++) {
		if (i)
			*p++ = '/';
		*p++ = NAMES[rndn(sizeof(NAMES) - 1)];
	}
	*p = 0;
}

static void gen_path(char *buf)
{
	uint32_t r = rndn(3);
	uint32_t k = rndn(RECENT);
	if (r == 0 && nrecent >= RECENT)
		strcpy(buf, recent[k]);
	else
		gen_fresh(buf);
	strcpy(recent[nrecent++ % RECENT], buf);
}

static void gen_target(char *buf)
{
	char p[16];
	uint32_t r = rndn(100);
	gen_path(p);
	if (r < 50)
		snprintf(buf, 64, "%s", p);
	else if (r < 75)
		snprintf(buf, 64, "/%s", p);
	else if (r < 90)
		snprintf(buf, 64, "../%s", p);
	else
		snprintf(buf, 64, "nonexistent");
}

static const mode_t FILE_MODES[] = {0644, 0600, 0755, 0640, 0444, 0666, 0700, 0};
static const mode_t DIR_MODES[] = {0755, 0700, 0777, 0750, 01777, 0555};
static const mode_t CHMOD_MODES[] = {0644, 0600, 0755, 0700, 04755, 02755,
				     0444, 01777, 0666, 0, 0750, 06711};
static const int UIDS[] = {-1, 0, 1000, 1001, 65534};
static const int GIDS[] = {-1, 0, 100, 1000, 65534};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rndn(NELEM(a))])

/* FSOPS_USERS: the users operations may run as (users mode) */
#define MAXUSERS 3
static struct user {
	uid_t uid;
	gid_t gid;
	gid_t groups[8];
	int ngroups;
} users[MAXUSERS];
static unsigned nusers;
static gid_t root_groups[64];
static int root_ngroups;

/* users mode: setuid, setgid (with and without group execute), sticky */
static const mode_t FILE_MODES_U[] = {0644, 0600, 0755, 0666, 0777, 04755, 02755,
				      06777, 02666, 04666, 02767, 01777, 0};
static const mode_t DIR_MODES_U[] = {0755, 0700, 0777, 01777, 02775, 02777, 04755, 0555};
static const mode_t CHMOD_MODES_U[] = {0644, 0600, 0755, 04755, 02755, 06777, 02666,
				       04666, 02767, 0777, 01777, 02775, 0};
/* chown: root, the users and their groups, nobody; filled in by main() */
static int UIDS_U[2 + MAXUSERS + 1], GIDS_U[2 + 2 * MAXUSERS + 1];
static unsigned nuids_u, ngids_u;

#define PICK_MODE(a) (nusers ? PICK(a##_U) : PICK(a))

static void parse_users(const char *spec)
{
	char *dup = strdup(spec), *sv = NULL;
	for (char *t = strtok_r(dup, ",", &sv); t && nusers < MAXUSERS; t = strtok_r(NULL, ",", &sv)) {
		struct user *u = &users[nusers];
		char *end;
		u->uid = (uid_t)strtoul(t, &end, 10);
		if (*end != ':')
			goto bad;
		u->gid = (gid_t)strtoul(end + 1, &end, 10);
		u->groups[u->ngroups++] = u->gid;
		if (*end == ':')
			do
				u->groups[u->ngroups++] = (gid_t)strtoul(end + 1, &end, 10);
			while (*end == '/' && u->ngroups < 8);
		if (*end)
			goto bad;
		nusers++;
	}
	free(dup);
	UIDS_U[nuids_u++] = -1;
	UIDS_U[nuids_u++] = 0;
	GIDS_U[ngids_u++] = -1;
	GIDS_U[ngids_u++] = 0;
	for (unsigned i = 0; i < nusers; i++) {
		UIDS_U[nuids_u++] = (int)users[i].uid;
		for (int g = 0; g < users[i].ngroups; g++) {
			unsigned k = 0;
			while (k < ngids_u && GIDS_U[k] != (int)users[i].groups[g])
				k++;
			if (k == ngids_u && ngids_u < NELEM(GIDS_U) - 1)
				GIDS_U[ngids_u++] = (int)users[i].groups[g];
		}
	}
	UIDS_U[nuids_u++] = 65534;
	GIDS_U[ngids_u++] = 65534;
	root_ngroups = getgroups(64, root_groups);
	if (root_ngroups < 0)
		root_ngroups = 0;
	return;
bad:
	fprintf(stderr, "fsops: bad FSOPS_USERS entry in '%s' (uid:gid[:g1/g2...])\n", spec);
	exit(2);
}

/* Act as users[a] (a < 0: stay root). Only the effective ids change, so
 * the way back is open; root's capabilities go with euid 0. */
static void become(int a)
{
	if (a < 0)
		return;
	const struct user *u = &users[a];
	if (setgroups((size_t)u->ngroups, u->groups) < 0 || setresgid(-1, u->gid, -1) < 0 ||
	    setresuid(-1, u->uid, -1) < 0) {
		perror("fsops: become");
		exit(2);
	}
}

static void unbecome(int a)
{
	if (a < 0)
		return;
	if (setresuid(-1, 0, -1) < 0 || setresgid(-1, 0, -1) < 0 ||
	    setgroups((size_t)root_ngroups, root_groups) < 0) {
		perror("fsops: unbecome");
		exit(2);
	}
}

/* xattr names: user.x0..3, in users mode also security.capability */
static void xattr_name(char *name, size_t len)
{
	unsigned k = rndn(nusers ? 5 : 4);
	if (k == 4)
		snprintf(name, len, "security.capability");
	else
		snprintf(name, len, "user.x%u", k);
}

static unsigned char iobuf[1 << 16];

/* checksum of the whole content of fd (from offset 0) */
static int sum_fd(int fd, char *out, size_t outlen)
{
	uint64_t h = FNV_INIT;
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, iobuf, sizeof(iobuf), off);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		h = fnv1a(h, iobuf, (size_t)n);
		off += n;
	}
	snprintf(out, outlen, "len=%lld sum=%016" PRIx64, (long long)off, h);
	return 0;
}

static void fmt_stat(const struct stat *st, char *out, size_t outlen)
{
	char t = type_char(st->st_mode);
	if (t == 'd')
		snprintf(out, outlen, "%c %04o nlink=- size=- uid=%u gid=%u", t,
			 (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid,
			 (unsigned)st->st_gid);
	else
		snprintf(out, outlen, "%c %04o nlink=%lu size=%lld uid=%u gid=%u", t,
			 (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink,
			 (long long)st->st_size, (unsigned)st->st_uid,
			 (unsigned)st->st_gid);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted list of user.* xattr names, comma separated */
static int list_user_xattrs(const char *path, int follow, char *out, size_t outlen)
{
	char names[8192];
	ssize_t n = follow ? listxattr(path, names, sizeof(names))
			   : llistxattr(path, names, sizeof(names));
	if (n < 0)
		return -errno;
	char *v[256];
	int cnt = 0;
	for (char *p = names; p < names + n && cnt < 256; p += strlen(p) + 1)
		if (strncmp(p, "user.", 5) == 0)
			v[cnt++] = p;
	qsort(v, (size_t)cnt, sizeof(v[0]), cmpstr);
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < cnt; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "", v[i]);
	return 0;
}

/* ------------------------------------------------------------ operations */

enum op {
	OP_CREATE, OP_WRITE, OP_APPEND, OP_TRUNCATE, OP_READ, OP_MKDIR, OP_RMDIR,
	OP_UNLINK, OP_RENAME, OP_LINK, OP_SYMLINK, OP_READLINK, OP_CHMOD,
	OP_CHOWN, OP_UTIMENS, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR,
	OP_REMOVEXATTR, OP_MKFIFO, OP_STAT, OP_READDIR, OP_MTIME, OP_FDOPS,
	OP_COUNT
};

static const struct {
	const char *name;
	unsigned weight;
} OPS[OP_COUNT] = {
	[OP_CREATE] = {"create", 8},	 [OP_WRITE] = {"write", 8},
	[OP_APPEND] = {"append", 4},	 [OP_TRUNCATE] = {"truncate", 4},
	[OP_READ] = {"read", 6},	 [OP_MKDIR] = {"mkdir", 7},
	[OP_RMDIR] = {"rmdir", 4},	 [OP_UNLINK] = {"unlink", 5},
	[OP_RENAME] = {"rename", 9},	 [OP_LINK] = {"link", 3},
	[OP_SYMLINK] = {"symlink", 3},	 [OP_READLINK] = {"readlink", 2},
	[OP_CHMOD] = {"chmod", 3},	 [OP_CHOWN] = {"chown", 2},
	[OP_UTIMENS] = {"utimens", 2},	 [OP_SETXATTR] = {"setxattr", 3},
	[OP_GETXATTR] = {"getxattr", 2}, [OP_LISTXATTR] = {"listxattr", 2},
	[OP_REMOVEXATTR] = {"removexattr", 2}, [OP_MKFIFO] = {"mkfifo", 2},
	[OP_STAT] = {"stat", 8},	 [OP_READDIR] = {"readdir", 6},
	[OP_MTIME] = {"mtime", 2},	 [OP_FDOPS] = {"fdops", 2},
};

/* FSOPS_MIX=dirs: directory renames over stacked branches */
static const unsigned DIR_WEIGHTS[OP_COUNT] = {
	[OP_CREATE] = 5, [OP_WRITE] = 3, [OP_READ] = 2,	   [OP_MKDIR] = 10,
	[OP_RMDIR] = 7,	 [OP_UNLINK] = 3, [OP_RENAME] = 18, [OP_SYMLINK] = 1,
	[OP_CHMOD] = 1,	 [OP_MKFIFO] = 1, [OP_STAT] = 3,    [OP_READDIR] = 5,
};
static int mix_dirs;

static enum op pick_op(void)
{
	unsigned total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += mix_dirs ? DIR_WEIGHTS[i] : OPS[i].weight;
	unsigned r = rndn(total);
	for (int i = 0; i < OP_COUNT; i++) {
		unsigned w = mix_dirs ? DIR_WEIGHTS[i] : OPS[i].weight;
		if (r < w)
			return (enum op)i;
		r -= w;
	}
	return OP_STAT;
}

static const char *rename_flag_name(unsigned f)
{
	return f == RENAME_NOREPLACE ? "NOREPLACE" : f == RENAME_EXCHANGE ? "EXCHANGE" : "0";
}

static int skip_op; /* generate the operation's arguments only */

/* record the operation's arguments; stop here if it is not to be executed */
#define ARGS(...)                                               \
	do {                                                    \
		snprintf(args, sizeof(args), __VA_ARGS__);      \
		if (skip_op)                                    \
			return;                                 \
	} while (0)

static void do_write_op(const char *p, int append, char *args, size_t alen)
{
	uint32_t r = rndn(4);
	off_t off = r == 0 ? 0 : (off_t)rndn(r == 1 ? 512 : 12288);
	size_t len = 1 + rndn(r == 3 ? 16384 : 4096);
	uint64_t dseed = rnd();
	int creat = rndn(3) == 0;
	if (append)
		snprintf(args, alen, "%s len=%zu%s", p, len, creat ? " CREAT" : "");
	else
		snprintf(args, alen, "%s off=%lld len=%zu%s", p, (long long)off, len,
			 creat ? " CREAT" : "");
	if (skip_op)
		return;
	fill_bytes(dseed, iobuf, len);
	int fd = open(p, O_WRONLY | O_CLOEXEC | O_NONBLOCK | (append ? O_APPEND : 0) |
				 (creat ? O_CREAT : 0), 0644);
	if (fd < 0) {
		set_res(-1);
		return;
	}
	ssize_t n = append ? write(fd, iobuf, len) : pwrite(fd, iobuf, len, off);
	if (n < 0) {
		set_res(-1);
	} else {
		struct stat st;
		if (fstat(fd, &st) < 0)
			snprintf(res, sizeof(res), "%zd fstat=-%s", n, errname(errno));
		else
			snprintf(res, sizeof(res), "%zd size=%lld", n, (long long)st.st_size);
	}
	if (close(fd) < 0)
		snprintf(res + strlen(res), sizeof(res) - strlen(res), " close=-%s", errname(errno));
}

/* FSOPS_ONLY: the operations to execute (default all) */
static unsigned char *only;

static void run_op(int n)
{
	char p[16], q[16], tgt[64], args[512];
	enum op op = pick_op();
	int actor = -1;
	if (nusers) {
		/* half the operations as root, the rest shared by the users */
		uint32_t a = rndn(2 * nusers);
		actor = a < nusers ? -1 : (int)(a - nusers);
	}
	args[0] = 0;
	res[0] = 0;
	skip_op = only && !only[n];
	if (!skip_op)
		become(actor);

	switch (op) {
	case OP_CREATE: {
		static const struct { int fl; const char *nm; } V[] = {
			{O_CREAT | O_EXCL | O_WRONLY, "CREAT|EXCL"},
			{O_CREAT | O_TRUNC | O_WRONLY, "CREAT|TRUNC"},
			{O_CREAT | O_RDWR, "CREAT"},
			{O_WRONLY | O_TRUNC, "TRUNC"},
		};
		gen_path(p);
		unsigned v = rndn(NELEM(V));
		mode_t m = PICK_MODE(FILE_MODES);
		ARGS( "%s %s %04o", p, V[v].nm, (unsigned)m);
		int fd = open(p, V[v].fl | O_CLOEXEC | O_NONBLOCK, m);
		if (fd < 0) {
			set_res(-1);
			break;
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			set_res(-1);
		else {
			char s[128];
			fmt_stat(&st, s, sizeof(s));
			snprintf(res, sizeof(res), "0 %s", s);
		}
		close(fd);
		break;
	}
	case OP_WRITE:
		gen_path(p);
		do_write_op(p, 0, args, sizeof(args));
		break;
	case OP_APPEND:
		gen_path(p);
		do_write_op(p, 1, args, sizeof(args));
		break;
	case OP_TRUNCATE: {
		gen_path(p);
		off_t len = rndn(3) == 0 ? 0 : (off_t)rndn(20000);
		ARGS( "%s %lld", p, (long long)len);
		set_res(truncate(p, len));
		break;
	}
	case OP_READ: {
		gen_path(p);
		ARGS( "%s", p);
		int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			set_res(-1);
			break;
		}
		int r = sum_fd(fd, res, sizeof(res));
		if (r < 0)
			set_err(-r);
		close(fd);
		break;
	}
	case OP_MKDIR: {
		gen_path(p);
		mode_t m = PICK_MODE(DIR_MODES);
		ARGS( "%s %04o", p, (unsigned)m);
		set_res(mkdir(p, m));
		break;
	}
	case OP_RMDIR:
		gen_path(p);
		ARGS( "%s", p);
		set_res(rmdir(p));
		break;
	case OP_UNLINK:
		gen_path(p);
		ARGS( "%s", p);
		set_res(unlink(p));
		break;
	case OP_RENAME: {
		gen_path(p);
		gen_path(q);
		uint32_t r = rndn(4);
		unsigned fl = r < 2 ? 0 : r == 2 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
		ARGS( "%s %s %s", p, q, rename_flag_name(fl));
		set_res(syscall(SYS_renameat2, AT_FDCWD, p, AT_FDCWD, q, fl));
		break;
	}
	case OP_LINK:
		gen_path(p);
		gen_path(q);
		ARGS( "%s %s", p, q);
		set_res(link(p, q));
		break;
	case OP_SYMLINK:
		gen_target(tgt);
		gen_path(p);
		ARGS( "%s %s", tgt, p);
		set_res(symlink(tgt, p));
		break;
	case OP_READLINK: {
		gen_path(p);
		ARGS( "%s", p);
		char b[256];
		ssize_t r = readlink(p, b, sizeof(b) - 1);
		if (r < 0)
			set_res(-1);
		else {
			b[r] = 0;
			snprintf(res, sizeof(res), "%zd '%s'", r, b);
		}
		break;
	}
	case OP_CHMOD: {
		gen_path(p);
		mode_t m = PICK_MODE(CHMOD_MODES);
		ARGS( "%s %04o", p, (unsigned)m);
		set_res(chmod(p, m));
		break;
	}
	case OP_CHOWN: {
		gen_path(p);
		int u = nusers ? UIDS_U[rndn(nuids_u)] : PICK(UIDS);
		int g = nusers ? GIDS_U[rndn(ngids_u)] : PICK(GIDS);
		int nofollow = rndn(2);
		ARGS( "%s %d %d%s", p, u, g, nofollow ? " NOFOLLOW" : "");
		set_res(fchownat(AT_FDCWD, p, (uid_t)u, (gid_t)g,
				 nofollow ? AT_SYMLINK_NOFOLLOW : 0));
		break;
	}
	case OP_UTIMENS: {
		gen_path(p);
		struct timespec ts[2];
		for (int i = 0; i < 2; i++) {
			ts[i].tv_sec = 100000000 + (time_t)rndn(800000000);
			ts[i].tv_nsec = (long)rndn(1000000000);
		}
		int omit_at = rndn(4) == 0;
		int nofollow = rndn(3) == 0;
		if (omit_at)
			ts[0].tv_nsec = UTIME_OMIT;
		ARGS( "%s at=%s%lld.%09ld mt=%lld.%09ld%s", p,
			 omit_at ? "OMIT/" : "", (long long)ts[0].tv_sec,
			 omit_at ? 0L : ts[0].tv_nsec, (long long)ts[1].tv_sec,
			 ts[1].tv_nsec, nofollow ? " NOFOLLOW" : "");
		set_res(utimensat(AT_FDCWD, p, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
		break;
	}
	case OP_SETXATTR: {
		gen_path(p);
		char name[32], val[48];
		snprintf(name, sizeof(name), "user.x%u", rndn(4));
		size_t vl = rndn(40);
		for (size_t i = 0; i < vl; i++)
			val[i] = (char)('a' + rndn(26));
		val[vl] = 0;
		uint32_t r = rndn(4);
		int fl = r < 2 ? 0 : r == 2 ? XATTR_CREATE : XATTR_REPLACE;
		int nofollow = rndn(2);
		ARGS( "%s %s '%s' %s%s", p, name, val,
			 fl == XATTR_CREATE ? "CREATE" : fl == XATTR_REPLACE ? "REPLACE" : "0",
			 nofollow ? " NOFOLLOW" : "");
		set_res(nofollow ? lsetxattr(p, name, val, vl, fl) : setxattr(p, name, val, vl, fl));
		break;
	}
	case OP_GETXATTR: {
		gen_path(p);
		char name[32], val[256];
		xattr_name(name, sizeof(name));
		int nofollow = rndn(2);
		ARGS( "%s %s%s", p, name, nofollow ? " NOFOLLOW" : "");
		ssize_t r = nofollow ? lgetxattr(p, name, val, sizeof(val) - 1)
				     : getxattr(p, name, val, sizeof(val) - 1);
		if (r < 0)
			set_res(-1);
		else if (strncmp(name, "user.", 5) != 0) {
			size_t o = (size_t)snprintf(res, sizeof(res), "%zd ", r);
			for (ssize_t i = 0; i < r; i++)
				o += (size_t)snprintf(res + o, sizeof(res) - o, "%02x",
						      (unsigned char)val[i]);
		} else {
			val[r] = 0;
			snprintf(res, sizeof(res), "%zd '%s'", r, val);
		}
		break;
	}
	case OP_LISTXATTR: {
		gen_path(p);
		int nofollow = rndn(2);
		ARGS( "%s%s", p, nofollow ? " NOFOLLOW" : "");
		char l[4096];
		int r = list_user_xattrs(p, !nofollow, l, sizeof(l));
		if (r < 0)
			set_err(-r);
		else
			snprintf(res, sizeof(res), "0 [%s]", l);
		break;
	}
	case OP_REMOVEXATTR: {
		gen_path(p);
		char name[32];
		xattr_name(name, sizeof(name));
		int nofollow = rndn(2);
		ARGS( "%s %s%s", p, name, nofollow ? " NOFOLLOW" : "");
		set_res(nofollow ? lremovexattr(p, name) : removexattr(p, name));
		break;
	}
	case OP_MKFIFO: {
		gen_path(p);
		mode_t m = PICK_MODE(FILE_MODES);
		ARGS( "%s %04o", p, (unsigned)m);
		set_res(mknod(p, S_IFIFO | m, 0));
		break;
	}
	case OP_STAT: {
		gen_path(p);
		int follow = rndn(4) == 0;
		ARGS( "%s%s", p, follow ? " FOLLOW" : "");
		struct stat st;
		if (fstatat(AT_FDCWD, p, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
			set_res(-1);
		else {
			char s[128];
			fmt_stat(&st, s, sizeof(s));
			snprintf(res, sizeof(res), "0 %s", s);
		}
		break;
	}
	case OP_READDIR: {
		/* the root is listed too (depth-0 path "."), 1 in 4 */
		gen_path(p);
		if (rndn(4) == 0)
			strcpy(p, ".");
		ARGS( "%s", p);
		DIR *d = opendir(p);
		if (!d) {
			set_res(-1);
			break;
		}
		char *v[1024];
		int cnt = 0, err = 0;
		struct dirent *de;
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (cnt < 1024)
				v[cnt++] = strdup(de->d_name);
		}
		err = errno;
		closedir(d);
		qsort(v, (size_t)cnt, sizeof(v[0]), cmpstr);
		if (err)
			set_err(err);
		else {
			size_t o = (size_t)snprintf(res, sizeof(res), "%d [", cnt);
			for (int i = 0; i < cnt; i++)
				o += (size_t)snprintf(res + o, sizeof(res) - o, "%s%s",
						      i ? "," : "", v[i]);
			snprintf(res + o, sizeof(res) - o, "]");
		}
		for (int i = 0; i < cnt; i++)
			free(v[i]);
		break;
	}
	case OP_MTIME: {
		/*
		 * Times set by utimens are all before 2000; every other change
		 * sets "now". So the classification old:<exact>/new is
		 * deterministic and verifies utimens and copy-up preserving mtime.
		 */
		gen_path(p);
		ARGS( "%s", p);
		struct stat st;
		if (lstat(p, &st) < 0)
			set_res(-1);
		else if (st.st_mtim.tv_sec < 946684800)
			snprintf(res, sizeof(res), "0 old:%lld.%09ld",
				 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		else
			snprintf(res, sizeof(res), "0 new");
		break;
	}
	case OP_FDOPS: {
		/* open a file, unlink or rename it while open, write and read
		 * through the descriptor */
		gen_path(p);
		gen_path(q);
		int ren = rndn(2);
		off_t off = (off_t)rndn(6000);
		size_t len = 1 + rndn(3000);
		uint64_t dseed = rnd();
		if (ren)
			ARGS( "%s rename:%s off=%lld len=%zu", p, q,
				 (long long)off, len);
		else
			ARGS( "%s unlink off=%lld len=%zu", p,
				 (long long)off, len);
		fill_bytes(dseed, iobuf, len);
		int fd = open(p, O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			snprintf(res, sizeof(res), "open=-%s", errname(errno));
			break;
		}
		size_t o = (size_t)snprintf(res, sizeof(res), "open=0");
		int r = ren ? rename(p, q) : unlink(p);
		o += (size_t)snprintf(res + o, sizeof(res) - o, " %s=%s%s",
				      ren ? "rename" : "unlink", r < 0 ? "-" : "",
				      r < 0 ? errname(errno) : "0");
		ssize_t w = pwrite(fd, iobuf, len, off);
		if (w < 0)
			o += (size_t)snprintf(res + o, sizeof(res) - o, " write=-%s", errname(errno));
		else
			o += (size_t)snprintf(res + o, sizeof(res) - o, " write=%zd", w);
		struct stat st;
		if (fstat(fd, &st) < 0)
			o += (size_t)snprintf(res + o, sizeof(res) - o, " fstat=-%s", errname(errno));
		else
			o += (size_t)snprintf(res + o, sizeof(res) - o, " size=%lld nlink=%lu",
					      (long long)st.st_size, (unsigned long)st.st_nlink);
		char s[96];
		int sr = sum_fd(fd, s, sizeof(s));
		if (sr < 0)
			o += (size_t)snprintf(res + o, sizeof(res) - o, " fdread=-%s", errname(-sr));
		else
			o += (size_t)snprintf(res + o, sizeof(res) - o, " fdread:%s", s);
		if (close(fd) < 0)
			o += (size_t)snprintf(res + o, sizeof(res) - o, " close=-%s", errname(errno));
		if (ren && r == 0) {
			/* the new name must show what was written through the fd */
			int fd2 = open(q, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
			if (fd2 < 0)
				o += (size_t)snprintf(res + o, sizeof(res) - o, " reopen=-%s",
						      errname(errno));
			else {
				sr = sum_fd(fd2, s, sizeof(s));
				if (sr < 0)
					o += (size_t)snprintf(res + o, sizeof(res) - o,
							      " reread=-%s", errname(-sr));
				else
					o += (size_t)snprintf(res + o, sizeof(res) - o,
							      " reread:%s", s);
				close(fd2);
			}
		}
		break;
	}
	case OP_COUNT:
		break;
	}
	if (skip_op)
		return;
	unbecome(actor);
	if (actor >= 0)
		printf("%d %s %s as=%u = %s\n", n, OPS[op].name, args, (unsigned)users[actor].uid, res);
	else
		printf("%d %s %s = %s\n", n, OPS[op].name, args, res);
}

/* --------------------------------------------------------------- SHA-256 */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t n;
};

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *c, const unsigned char *p)
{
	uint32_t w[64], a, b, cc, d, e, f, g, h;
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
			      K256[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(struct sha256 *c)
{
	static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, H0, sizeof(H0));
	c->len = 0;
	c->n = 0;
}

static void sha256_update(struct sha256 *c, const unsigned char *p, size_t n)
{
	c->len += n;
	while (n) {
		size_t k = 64 - c->n < n ? 64 - c->n : n;
		memcpy(c->buf + c->n, p, k);
		c->n += k;
		p += k;
		n -= k;
		if (c->n == 64) {
			sha256_block(c, c->buf);
			c->n = 0;
		}
	}
}

static void sha256_hex(struct sha256 *c, char out[65])
{
	uint64_t bits = c->len * 8;
	unsigned char pad = 0x80, z = 0, lenb[8];
	sha256_update(c, &pad, 1);
	while (c->n != 56)
		sha256_update(c, &z, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(c, lenb, 8);
	for (int i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", c->h[i]);
}

/* ------------------------------------------------------------- listings */

static int list_raw;
static int list_err;

static void print_xattrs(const char *path)
{
	char names[16384];
	ssize_t n = llistxattr(path, names, sizeof(names));
	if (n < 0) {
		if (errno != ENOTSUP)
			printf(" xattrs=-%s", errname(errno));
		return;
	}
	char *v[512];
	int cnt = 0;
	for (char *p = names; p < names + n && cnt < 512; p += strlen(p) + 1)
		if (list_raw || strncmp(p, "user.", 5) == 0 || !strcmp(p, "security.capability"))
			v[cnt++] = p;
	qsort(v, (size_t)cnt, sizeof(v[0]), cmpstr);
	for (int i = 0; i < cnt; i++) {
		unsigned char val[4096];
		ssize_t l = lgetxattr(path, v[i], val, sizeof(val));
		printf(" x:%s=", v[i]);
		if (l < 0)
			printf("-%s", errname(errno));
		else
			for (ssize_t j = 0; j < l; j++)
				printf("%02x", val[j]);
	}
}

static int list_format;

/* --format: an overlay.* value of @path, escaped */
static void print_format_xattr(const char *path, const char *name)
{
	unsigned char val[4096];
	ssize_t l = lgetxattr(path, name, val, sizeof(val));
	if (l < 0) {
		if (errno != ENODATA && errno != ENOTSUP)
			printf(" %s=-%s", name + 16, errname(errno));
		return;
	}
	printf(" %s='", name + 16);
	for (ssize_t j = 0; j < l; j++)
		if (val[j] > 0x20 && val[j] < 0x7f && val[j] != '\\' && val[j] != '\'')
			putchar(val[j]);
		else
			printf("\\x%02x", val[j]);
	putchar('\'');
}

static void list_tree(const char *root, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	struct stat st;
	if (lstat(path, &st) < 0) {
		printf("%s lstat=-%s\n", *rel ? rel : ".", errname(errno));
		list_err = 1;
		return;
	}
	char t = type_char(st.st_mode);
	if (list_format) {
		printf("%s %c %04o", *rel ? rel : ".", t, (unsigned)(st.st_mode & 07777));
		if (t == 'c')
			printf(" rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		print_format_xattr(path, "trusted.overlay.redirect");
		print_format_xattr(path, "trusted.overlay.opaque");
		printf("\n");
		goto children;
	}
	printf("%s %c %04o %u %u", *rel ? rel : ".", t, (unsigned)(st.st_mode & 07777),
	       (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (t != 'd' && !list_raw)
		printf(" nlink=%lu", (unsigned long)st.st_nlink);
	if (list_raw)
		printf(" nlink=%lu size=%lld ino=%llu rdev=%u:%u mtime=%lld.%09ld ctime=%lld.%09ld",
		       (unsigned long)st.st_nlink, (long long)st.st_size,
		       (unsigned long long)st.st_ino, major(st.st_rdev), minor(st.st_rdev),
		       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	if (t == 'f') {
		struct sha256 c;
		char hex[65];
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
		if (fd < 0) {
			printf(" open=-%s", errname(errno));
			list_err = 1;
		} else {
			sha256_init(&c);
			off_t total = 0;
			ssize_t n;
			while ((n = read(fd, iobuf, sizeof(iobuf))) > 0) {
				sha256_update(&c, iobuf, (size_t)n);
				total += n;
			}
			if (n < 0) {
				printf(" read=-%s", errname(errno));
				list_err = 1;
			}
			close(fd);
			sha256_hex(&c, hex);
			printf(" size=%lld sha256=%s", (long long)st.st_size, hex);
			if (total != st.st_size)
				printf(" readlen=%lld", (long long)total);
		}
	} else if (t == 'l') {
		char b[4096];
		ssize_t n = readlink(path, b, sizeof(b) - 1);
		if (n < 0)
			printf(" readlink=-%s", errname(errno));
		else {
			b[n] = 0;
			printf(" size=%lld -> %s", (long long)st.st_size, b);
		}
	}
	print_xattrs(path);
	printf("\n");
children:
	if (t != 'd')
		return;

	DIR *d = opendir(path);
	if (!d) {
		printf("%s opendir=-%s\n", *rel ? rel : ".", errname(errno));
		list_err = 1;
		return;
	}
	size_t cap = 64, cnt = 0;
	char **v = malloc(cap * sizeof(*v));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cnt == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[cnt++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmpstr);
	for (size_t i = 0; i < cnt; i++) {
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", v[i]);
		list_tree(root, sub);
		free(v[i]);
	}
	free(v);
}

/* ------------------------------------------------------------------ main */

static int usage(void)
{
	fprintf(stderr, "usage: fsops SEED NOPS DIR\n"
			"       fsops --tree DIR\n"
			"       fsops --raw DIR\n"
			"       fsops --format DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && (!strcmp(argv[1], "--tree") || !strcmp(argv[1], "--raw") ||
			  !strcmp(argv[1], "--format"))) {
		list_raw = !strcmp(argv[1], "--raw");
		list_format = !strcmp(argv[1], "--format");
		list_tree(argv[2], "");
		return list_err;
	}
	if (argc != 4)
		return usage();
	char *end;
	unsigned long long seed = strtoull(argv[1], &end, 0);
	if (*end)
		return usage();
	long nops = strtol(argv[2], &end, 0);
	if (*end || nops < 0)
		return usage();

	if (chroot(argv[3]) < 0 || chdir("/") < 0) {
		fprintf(stderr, "fsops: chroot %s: %s\n", argv[3], strerror(errno));
		return 2;
	}
	const char *mix = getenv("FSOPS_MIX");
	mix_dirs = mix && !strcmp(mix, "dirs");
	const char *us = getenv("FSOPS_USERS");
	if (us && *us)
		parse_users(us);
	const char *sel = getenv("FSOPS_ONLY");
	if (sel && *sel) {
		/* "1,5,7-9": a subset of the sequence, for reducing a failure;
		 * skipped operations still consume their random draws */
		only = calloc((size_t)nops + 1, 1);
		for (char *tok = strdup(sel), *sv = NULL, *t = strtok_r(tok, ",", &sv); t;
		     t = strtok_r(NULL, ",", &sv)) {
			long a = strtol(t, &end, 10), b = a;
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			for (long i = a < 1 ? 1 : a; i <= b && i <= nops; i++)
				only[i] = 1;
		}
	}
	uint64_t s = seed;
	rng_state = splitmix64(&s) | 1;
	/* odd seeds run with umask 0 so the daemon's own umask handling shows */
	mode_t um = (seed & 1) ? 0 : 022;
	umask(um);
	printf("# fsops seed=%llu nops=%ld umask=%04o%s%s%s\n", seed, nops, (unsigned)um,
	       only ? " (FSOPS_ONLY subset)" : "", nusers ? " users=" : "", nusers ? us : "");
	for (long i = 1; i <= nops; i++)
		run_op((int)i);
	return 0;
}
