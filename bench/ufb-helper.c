/* ufb-helper: small tools for bench/run.sh (data generation, lstat walk,
 * daemon lookup).  Built by run.sh with plain gcc; not part of the meson
 * build.
 *
 *   walk DIR                      lstat every entry below DIR (openat +
 *                                 fstatat(AT_SYMLINK_NOFOLLOW)); prints the
 *                                 number of entries (DIR itself excluded)
 *   tree DIR NFILES PERDIR SIZE PREFIX SEED
 *                                 NFILES files, PERDIR per leaf directory,
 *                                 leaves DIR/dNNN/sNN/; SIZE<0 = random
 *                                 size in [0,-SIZE]
 *   flat DIR PREFIX START COUNT SIZE [SKIP]
 *                                 DIR/PREFIX%06d for START..START+COUNT-1,
 *                                 leaving out every index divisible by SKIP
 *   whiteout DIR PREFIX START COUNT [STEP]
 *                                 overlay whiteouts (char 0/0) for the names
 *                                 PREFIX%06d, index START, START+STEP, ...
 *                                 (COUNT of them)
 *   unionfs-whiteout DIR PREFIX START COUNT [STEP]
 *                                 the same as unionfs-fuse whiteouts
 *                                 (NAME_HIDDEN~ files in .unionfs-fuse/DIR)
 *   bigfile PATH MIB SEED         deterministic pseudo-random content
 *   csrc DIR N                    N small C files + common.h + main.c + Makefile
 *   pids COMM MNT...              "MNT PID" for processes named COMM that have
 *                                 MNT as one of their arguments
 *   hwm PID...                    VmHWM (kB) of each PID, one per line
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "ufb-helper: %s %s: %s\n", what, arg ? arg : "",
		strerror(errno));
	exit(1);
}

static uint64_t rng;
static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void seed(uint64_t s) { rng = s * 0x9E3779B97F4A7C15ULL + 1; }

/* ---------------------------------------------------------------- walk */
static unsigned long long nent, nerr;

static void walkdir(int dfd)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		nerr++;
		close(dfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			nerr++;
			continue;
		}
		nent++;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), n,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				nerr++;
				continue;
			}
			walkdir(fd);
		}
	}
	closedir(d);
}

static int cmd_walk(int argc, char **argv)
{
	if (argc < 1)
		return 2;
	struct stat st;
	if (lstat(argv[0], &st) < 0)
		die("lstat", argv[0]);
	int fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open", argv[0]);
	walkdir(fd);
	printf("%llu\n", nent);
	if (nerr)
		fprintf(stderr, "ufb-helper: walk %s: %llu errors\n", argv[0], nerr);
	return nerr ? 1 : 0;
}

/* ----------------------------------------------------------- generation */
static char buf[1 << 20];

static void fill(size_t n)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = rnd();
		memcpy(buf + i, &v, 8);
	}
}

static void mkfile(int dfd, const char *name, long size)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create", name);
	if (size < 0)
		size = (long)(rnd() % (uint64_t)(-size + 1));
	if (size > 0) {
		/* printable content so text tools and git behave normally */
		for (long i = 0; i < size; i++)
			buf[i] = 'a' + (char)(rnd() % 26);
		if (size > 1)
			buf[size - 1] = '\n';
		if (write(fd, buf, (size_t)size) != size)
			die("write", name);
	}
	close(fd);
}

static void mkdirs(const char *p)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", p);
	for (char *s = tmp + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				die("mkdir", tmp);
			*s = '/';
		}
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		die("mkdir", tmp);
}

static int cmd_tree(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	const char *dir = argv[0];
	long nfiles = atol(argv[1]), perdir = atol(argv[2]), size = atol(argv[3]);
	const char *prefix = argv[4];
	seed(strtoull(argv[5], NULL, 10));
	if (size > (long)sizeof buf || -size > (long)sizeof buf)
		return 2;
	char path[PATH_MAX], name[NAME_MAX + 1];
	int dfd = -1;
	for (long i = 0, leaf = -1; i < nfiles; i++) {
		if (i / perdir != leaf) {
			leaf = i / perdir;
			snprintf(path, sizeof path, "%s/d%03ld/s%02ld", dir, leaf / 100, leaf % 100);
			mkdirs(path);
			if (dfd >= 0)
				close(dfd);
			dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0)
				die("open", path);
		}
		snprintf(name, sizeof name, "%sf%06ld", prefix, i);
		mkfile(dfd, name, size);
	}
	if (dfd >= 0)
		close(dfd);
	return 0;
}

static int cmd_flat(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	mkdirs(argv[0]);
	int dfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open", argv[0]);
	long start = atol(argv[2]), count = atol(argv[3]), size = atol(argv[4]);
	long skip = argc > 5 ? atol(argv[5]) : 0;
	seed((uint64_t)start + 17);
	char name[NAME_MAX + 1];
	for (long i = start; i < start + count; i++) {
		if (skip > 0 && i % skip == 0)
			continue;
		snprintf(name, sizeof name, "%s%06ld", argv[1], i);
		mkfile(dfd, name, size);
	}
	return 0;
}

static int cmd_whiteout(int argc, char **argv, int unionfs)
{
	if (argc < 4)
		return 2;
	mkdirs(argv[0]);
	int dfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open", argv[0]);
	long start = atol(argv[2]), count = atol(argv[3]);
	long step = argc > 4 ? atol(argv[4]) : 1;
	if (step < 1)
		step = 1;
	char name[NAME_MAX + 1];
	for (long i = start; i < start + count * step; i += step) {
		if (unionfs) {
			snprintf(name, sizeof name, "%s%06ld_HIDDEN~", argv[1], i);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0)
				die("create", name);
			close(fd);
		} else {
			snprintf(name, sizeof name, "%s%06ld", argv[1], i);
			if (mknodat(dfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
				die("mknod", name);
		}
	}
	return 0;
}

static int cmd_bigfile(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long mib = atol(argv[1]);
	seed(strtoull(argv[2], NULL, 10));
	int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create", argv[0]);
	for (long i = 0; i < mib; i++) {
		fill(sizeof buf);
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			die("write", argv[0]);
	}
	if (fsync(fd) < 0)
		die("fsync", argv[0]);
	close(fd);
	return 0;
}

static int cmd_csrc(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *dir = argv[0];
	long n = atol(argv[1]);
	mkdirs(dir);
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/common.h", dir);
	if (!(f = fopen(path, "w")))
		die("create", path);
	fprintf(f, "#ifndef COMMON_H\n#define COMMON_H\n#include <stdio.h>\n"
		   "#include <stdlib.h>\n#include <string.h>\n"
		   "struct item { int key; double val; char name[32]; };\n");
	for (long i = 0; i < n; i++)
		fprintf(f, "long f%04ld(long x);\n", i);
	fprintf(f, "#endif\n");
	fclose(f);

	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/f%04ld.c", dir, i);
		if (!(f = fopen(path, "w")))
			die("create", path);
		fprintf(f, "#include \"common.h\"\n\n"
			   "static int cmp(const void *a, const void *b)\n{\n"
			   "\tconst struct item *x = a, *y = b;\n"
			   "\treturn (x->key > y->key) - (x->key < y->key);\n}\n\n"
			   "long f%04ld(long x)\n{\n"
			   "\tstruct item it[16];\n"
			   "\tfor (int i = 0; i < 16; i++) {\n"
			   "\t\tit[i].key = (int)((x * %ld + i * 7919) %% 1009);\n"
			   "\t\tit[i].val = it[i].key * 0.5;\n"
			   "\t\tsnprintf(it[i].name, sizeof it[i].name, \"n%%d\", i);\n"
			   "\t}\n"
			   "\tqsort(it, 16, sizeof it[0], cmp);\n"
			   "\tlong s = 0;\n"
			   "\tfor (int i = 0; i < 16; i++)\n"
			   "\t\ts += it[i].key + (long)strlen(it[i].name);\n"
			   "\treturn s + x;\n}\n", i, i + 3);
		fclose(f);
	}

	snprintf(path, sizeof path, "%s/main.c", dir);
	if (!(f = fopen(path, "w")))
		die("create", path);
	fprintf(f, "#include \"common.h\"\nint main(void)\n{\n\tlong s = 0;\n");
	for (long i = 0; i < n; i++)
		fprintf(f, "\ts += f%04ld(%ld);\n", i, i);
	fprintf(f, "\tprintf(\"%%ld\\n\", s);\n\treturn 0;\n}\n");
	fclose(f);

	snprintf(path, sizeof path, "%s/Makefile", dir);
	if (!(f = fopen(path, "w")))
		die("create", path);
	fprintf(f, "CC ?= cc\nCFLAGS ?= -O1\n"
		   "SRCS := $(sort $(wildcard f*.c)) main.c\n"
		   "OBJS := $(SRCS:.c=.o)\n\n"
		   "prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n"
		   "%%.o: %%.c common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n"
		   "clean:\n\trm -f prog $(OBJS)\n");
	fclose(f);
	return 0;
}

/* ------------------------------------------------------------- daemons */
static int cmd_pids(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *comm = argv[0];
	DIR *p = opendir("/proc");
	if (!p)
		die("opendir", "/proc");
	struct dirent *de;
	pid_t self = getpid();
	static char cl[1 << 16];
	while ((de = readdir(p))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		char path[64], c[64] = "";
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(c, sizeof c, f))
			c[0] = 0;
		fclose(f);
		c[strcspn(c, "\n")] = 0;
		if (strcmp(c, comm) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cl, sizeof cl - 1);
		close(fd);
		if (n <= 0)
			continue;
		cl[n] = 0;
		for (ssize_t off = 0; off < n; off += (ssize_t)strlen(cl + off) + 1) {
			const char *arg = cl + off;
			for (int i = 1; i < argc; i++) {
				size_t l = strlen(argv[i]);
				/* exact match, tolerating one trailing slash */
				if (strncmp(arg, argv[i], l) == 0 &&
				    (arg[l] == 0 || (arg[l] == '/' && arg[l + 1] == 0)))
					printf("%s %ld\n", argv[i], pid);
			}
		}
	}
	closedir(p);
	return 0;
}

static int cmd_hwm(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char path[64], line[256];
		long kb = -1;
		snprintf(path, sizeof path, "/proc/%s/status", argv[i]);
		FILE *f = fopen(path, "r");
		if (f) {
			while (fgets(line, sizeof line, f))
				if (sscanf(line, "VmHWM: %ld", &kb) == 1)
					break;
			fclose(f);
		}
		printf("%ld\n", kb);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ufb-helper walk|tree|flat|whiteout|"
				"unionfs-whiteout|bigfile|csrc|pids|hwm ARGS\n");
		return 2;
	}
	const char *c = argv[1];
	argc -= 2;
	argv += 2;
	int r = 2;
	if (!strcmp(c, "walk"))
		r = cmd_walk(argc, argv);
	else if (!strcmp(c, "tree"))
		r = cmd_tree(argc, argv);
	else if (!strcmp(c, "flat"))
		r = cmd_flat(argc, argv);
	else if (!strcmp(c, "whiteout"))
		r = cmd_whiteout(argc, argv, 0);
	else if (!strcmp(c, "unionfs-whiteout"))
		r = cmd_whiteout(argc, argv, 1);
	else if (!strcmp(c, "bigfile"))
		r = cmd_bigfile(argc, argv);
	else if (!strcmp(c, "csrc"))
		r = cmd_csrc(argc, argv);
	else if (!strcmp(c, "pids"))
		r = cmd_pids(argc, argv);
	else if (!strcmp(c, "hwm"))
		r = cmd_hwm(argc, argv);
	if (r == 2)
		fprintf(stderr, "ufb-helper %s: bad arguments\n", c);
	return r;
}
