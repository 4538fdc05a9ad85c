/* unionfuse lock [--no-wait] BRANCH -- COMMAND [ARGS...]: run COMMAND while
 * no mount uses BRANCH and none can start to. Every mount holds a shared
 * flock() on its lowers (branchlock.h); this takes it exclusively, so it
 * waits for the mounts to go and new mounts wait for COMMAND. The lock fd is
 * not inherited by COMMAND: the lock ends with this process, not with
 * whatever COMMAND leaves running. Exit status: COMMAND's (128+N when it is
 * killed by signal N), 75 when BRANCH is in use and --no-wait was given,
 * 126/127 when COMMAND cannot be run, 1 for other errors, 2 for bad usage. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

#define EXIT_BUSY 75 /* sysexits.h EX_TEMPFAIL */

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: unionfuse lock [--no-wait] BRANCH -- COMMAND [ARGS...]\n"
		   "\n"
		   "Run COMMAND while no unionfuse mount uses BRANCH: wait until the mounts\n"
		   "using it are gone, keep new ones waiting while COMMAND runs.\n"
		   "\n"
		   "    -n, --no-wait   fail at once (exit 75) if a mount uses BRANCH,\n"
		   "                    naming the mounting processes\n"
		   "    -h, --help      this help\n");
}

/* Fork and exec @argv; the lock stays here. Returns its exit status. */
static int run(char **argv)
{
	struct sigaction fw = { .sa_handler = forward }, ign = { .sa_handler = SIG_IGN };
	int status;

	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "unionfuse lock: fork: %s\n", g_strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		int e = errno;
		fprintf(stderr, "unionfuse lock: cannot run '%s': %s\n", argv[0], g_strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	/* As system(3): the terminal's SIGINT/SIGQUIT reach COMMAND itself;
	 * SIGTERM/SIGHUP sent to us are passed on. */
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGTERM, &fw, NULL);
	sigaction(SIGHUP, &fw, NULL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "unionfuse lock: waitpid: %s\n", g_strerror(errno));
			return 1;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int uf_tool_lock(int argc, char **argv)
{
	bool no_wait = false;
	struct stat st;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--no-wait") == 0) {
			no_wait = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			break;
		} else {
			fprintf(stderr, "unionfuse lock: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc || strcmp(argv[i], "--") == 0) {
		fprintf(stderr, "unionfuse lock: missing BRANCH\n");
		usage(stderr);
		return 2;
	}
	const char *branch = argv[i++];
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc) {
		fprintf(stderr, "unionfuse lock: missing COMMAND\n");
		usage(stderr);
		return 2;
	}

	_cleanup_close_ int fd = open(branch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "unionfuse lock: branch '%s': %s\n", branch, g_strerror(errno));
		return 1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			fprintf(stderr, "unionfuse lock: cannot lock branch '%s': %s\n", branch,
				g_strerror(errno));
			return 1;
		}
		g_autofree char *who = uf_lock_holders(st.st_dev, st.st_ino, false);
		fprintf(stderr, "unionfuse lock: branch '%s' is in use by %s%s\n", branch,
			who ? who : "another process", no_wait ? "" : ": waiting");
		if (no_wait)
			return EXIT_BUSY;
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) {
				fprintf(stderr, "unionfuse lock: cannot lock branch '%s': %s\n",
					branch, g_strerror(errno));
				return 1;
			}
		}
	}
	return run(argv + i);
}
