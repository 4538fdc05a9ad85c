/* unionfuse: argv -> configuration -> checked branches -> FUSE session ->
 * mount -> loop. Every failure before the mount is one line on stderr and a
 * non-zero exit, with nothing created. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "unionfuse/branchlock.h"
#include "unionfuse/farm.h"
#include "unionfuse/idle.h"
#include "unionfuse/io.h"
#include "unionfuse/inval.h"
#include "unionfuse/notify.h"
#include "unionfuse/ops.h"
#include "unionfuse/params.h"
#include "unionfuse/super.h"
#include "unionfuse/tmpupper.h"
#include "unionfuse/tool.h"
#include "unionfuse/uring.h"
#include "unionfuse/util.h"
#include "unionfuse/worker.h"

static void usage(const char *prog)
{
	printf("usage: %s [OPTIONS] LOWER[:LOWER...]:UPPER MOUNTPOINT\n"
	       "       %s [OPTIONS] -o lowerdir=TOP[:...:BOTTOM][,upperdir=UPPER,workdir=WORK] "
	       "MOUNTPOINT\n"
	       "       %s -o tmpupper[=DIR] [OPTIONS] LOWER[:LOWER...] MOUNTPOINT\n"
	       "       %s TOOL [ARGS...]\n"
	       "\n"
	       "Mount the union of the branches at MOUNTPOINT. Branches are listed bottom\n"
	       "to top; the last is the writable upper. Write '\\:' for a ':' in a path.\n"
	       "Data-only branches follow '::' (lowerdir=L1::D1::D2, or D2::D1::L1:UPPER).\n"
	       "\n"
	       "unionfuse options:\n"
	       "    -o lowerdir=DIRS       lower branches, top first (as overlayfs)\n"
	       "    -o upperdir=DIR        writable upper branch (with lowerdir=)\n"
	       "    -o workdir=DIR         work directory on the upper's filesystem\n"
	       "    -o ro                  read-only union: every branch is a lower\n"
	       "    -o timeout=SECONDS     entry and attribute cache timeout (default %g)\n"
	       "    -o [no]writeback       the kernel's writeback cache (default off)\n"
	       "    -o passthrough=auto|on|off  FUSE passthrough of reads and writes (libfuse\n"
	       "                           >= 3.18): auto: upper files and read-only unions;\n"
	       "                           on: lower files too (old readers keep lower data)\n"
	       "    -o index=on|off        keep lower hard links one inode on copy-up, in\n"
	       "                           WORKDIR/index (kernel format; default off)\n"
	       "    -o tmpfile=on|off      O_TMPFILE through the union (libfuse >= 3.15,\n"
	       "                           default on; off: EOPNOTSUPP)\n"
	       "    -o killpriv=on|off     FUSE_HANDLE_KILLPRIV_V2 (default on): the daemon\n"
	       "                           drops setuid/setgid on writes\n"
	       "    -o spin=MICROSECONDS   wait awake that long for the next request while\n"
	       "                           requests come quickly (default %d, 0: never)\n"
	       "    -o io_uring            FUSE over io_uring (libfuse >= 3.18, kernel\n"
	       "                           parameter fuse.enable_uring=1; default off)\n"
	       "    -o userxattr           use user.overlay.* xattrs (default for non-root)\n"
	       "    -o noallow_other       only the mounting user may use the union\n"
	       "                           (allow_other is the default for root)\n"
	       "    -o noacl               no POSIX ACLs: mode bits only, ACL xattrs refused\n"
	       "    -o noxattrs=1          no xattrs through the union (EOPNOTSUPP)\n"
	       "    -o squash_to_root      report every file as owned by 0:0\n"
	       "    -o squash_to_uid=UID   report every file as owned by UID\n"
	       "    -o squash_to_gid=GID   report every file's group as GID\n"
	       "    -o static_nlink        directories report st_nlink 1\n"
	       "    -o redirect_dir=off    renaming a directory with lower parts fails (EXDEV)\n"
	       "    -o threaded=0          as -s\n"
	       "    -o tmpupper[=DIR]      only lowers given: the upper is on a private tmpfs\n"
	       "                           (root), or in a fresh DIR/unionfuse-XXXXXX; it is\n"
	       "                           removed at unmount\n"
	       "    -o tmpupper_size=SIZE  size of that tmpfs (e.g. 50%%, 2g)\n"
	       "    -o idle_timeout=SECS   unmount after SECS without requests or open files\n"
	       "    -o nolock              no shared lock on the lowers (see unionfuse lock)\n"
	       "    -o lock_wait=SECS      give up after SECS when a lower is locked\n"
	       "                           (default: wait)\n"
	       "    -o farm_idle=SECS      with an upper DIR/%%n (a farm: one sandbox per\n"
	       "                           name): drop a sandbox idle for SECS (300)\n"
	       "    -o farm_create         a farm brings up a missing sandbox (mkdir 0755)\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "    -s                     single-threaded\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          print the version\n"
	       "\n"
	       "FUSE options:\n",
	       prog, prog, prog, prog, UF_DEFAULT_TIMEOUT, UF_SPIN_DEFAULT_US);
	fuse_lowlevel_help();
	printf("\nTools (unionfuse TOOL --help):\n");
	uf_tools_list();
}

/* Every inode of a looked-up tree holds an fd: allow as many as we may. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int check_fuse_device(char **reterr_msg)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		*reterr_msg = g_strdup_printf("cannot open /dev/fuse: %s (is FUSE available?)",
					      g_strerror(errno));
		return -errno;
	}
	close(fd);
	return 0;
}

/* -o fsname=@source, escaped for libfuse's option parser (which takes "\\"
 * and "," specially): mount(8) then finds the source of an fstab line in
 * the mount table, and "mount -a" does not mount it again. */
static char *fsname_opt(const char *source)
{
	g_autoptr(GString) s = g_string_new("-ofsname=");

	for (const char *p = source; *p; p++) {
		if (*p == '\\' || *p == ',')
			g_string_append_c(s, '\\');
		g_string_append_c(s, *p);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* One line: on stderr before the daemon detaches, in syslog after. */
static int fail(const char *msg)
{
	uf_log(LOG_ERR, "%s", msg);
	return 1;
}

int main(int argc, char **argv)
{
	struct uf_config cfg;
	struct uf_fs *fs = NULL;
	struct fuse_session *se = NULL;
	struct uf_tmpupper tmpupper = UF_TMPUPPER_INIT;
	g_autofree char *err = NULL;
	int ret = 1;

	/* `unionfuse lock ...`: a tool, not a mount. */
	const struct uf_tool *tool = argc > 1 ? uf_tool_find(argv[1]) : NULL;
	if (tool)
		return tool->main(argc - 1, argv + 1);
	if (uf_params_parse(argc, argv, &cfg, &err) < 0) {
		ret = fail(err);
		goto out;
	}
	if (cfg.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (cfg.show_version) {
		/* The library it runs with, and the FUSE protocol that one
		 * speaks (libfuse prints "using FUSE kernel interface version
		 * 7.N" and its fusermount3's version). */
		printf("unionfuse %s (libfuse %s, built with %d.%d)\n", UF_VERSION,
		       fuse_pkgversion(), FUSE_MAJOR_VERSION, FUSE_MINOR_VERSION);
		setvbuf(stdout, NULL, _IOLBF, 0); /* before fusermount3's line */
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	/* The detached daemon works in /, and libfuse unmounts by the path it
	 * was given: a relative one would miss on SIGTERM, leaving a dead
	 * mount. (A /dev/fd/N mount point is mount.fuse3's, already done.) */
	if (!g_path_is_absolute(cfg.mountpoint)) {
		char *real = realpath(cfg.mountpoint, NULL);
		char *abs = real ? g_strdup(real) : g_canonicalize_filename(cfg.mountpoint, NULL);
		free(real);
		g_free(cfg.mountpoint);
		cfg.mountpoint = abs;
	}
	umask(0); /* the kernel applied the caller's umask already */
	raise_fd_limit();
	uf_debug_enabled = cfg.debug;

	if (check_fuse_device(&err) < 0 ||
	    (cfg.tmpupper && uf_tmpupper_setup(&cfg, &tmpupper, &err) < 0) ||
	    (uf_farm_wanted(&cfg) ? uf_farm_new(&cfg, &fs, &err) : uf_fs_new(&cfg, &fs, &err)) < 0) {
		ret = fail(err);
		goto out;
	}
	fs->tmpupper = cfg.tmpupper;
	uf_tmpupper_detach(&tmpupper); /* our fds hold the tmpfs from here on */
	if ((!cfg.nolock && uf_branches_lock_shared(fs, cfg.lock_wait, &err) < 0) ||
	    uf_idle_init(fs, &cfg, &err) < 0) {
		ret = fail(err);
		goto out;
	}
	if (!cfg.fsname_given) {
		g_autofree char *fsname = fsname_opt(cfg.source ? cfg.source : "unionfuse");
		fuse_opt_insert_arg(&cfg.fuse_args, 1, fsname);
	}

	/* Our defaults go first so that the user's options override them. */
	fuse_opt_insert_arg(&cfg.fuse_args, 1,
			    "-odefault_permissions,subtype=unionfuse");
	/* A root-mounted union serves every user, as fuse-overlayfs and the
	 * kernel overlayfs do: safe, since default_permissions makes the kernel
	 * check each access against the union's owners and modes. Not when the
	 * user gave allow_root (libfuse refuses both) or -o noallow_other, nor
	 * for a non-root mount (fusermount3 allows it only with
	 * user_allow_other in /etc/fuse.conf). */
	if (geteuid() == 0 && !cfg.allow_given && !cfg.no_allow_other)
		fuse_opt_insert_arg(&cfg.fuse_args, 1, "-oallow_other");
	uf_uring_setup(fs, &cfg);
	se = fuse_session_new(&cfg.fuse_args, fs->farm ? &uf_farm_ops : &uf_ll_ops,
			      sizeof(uf_ll_ops), fs);
	if (!se) {
		ret = fail("cannot create the FUSE session (bad FUSE option?)");
		goto out;
	}
	if (fuse_set_signal_handlers(se) < 0) {
		ret = fail("cannot set signal handlers");
		goto out_session;
	}
	if (fuse_session_mount(se, cfg.mountpoint) < 0) {
		ret = fail("cannot mount (see the message above)");
		goto out_signals;
	}
	if (uf_io_install(fs, se) < 0) {
		ret = fail("cannot set up the request stream");
		goto out_unmount;
	}
	/* The mount answers from here on: only now let the parent exit. */
	if (fuse_daemonize(cfg.foreground) < 0) {
		ret = 1;
		goto out_unmount;
	}
	/* Detached, stderr is /dev/null: warnings go to syslog/the journal. */
	if (!cfg.foreground)
		uf_log_use_syslog();
	if (uf_worker_init(fs, cfg.single_thread) < 0) {
		ret = fail("cannot start the worker threads");
		goto out_unmount;
	}
	if (uf_inval_start(fs, se) < 0) {
		ret = fail("cannot start the invalidation thread");
		goto out_workers;
	}
	uf_notify_start(fs, se);
	if (uf_idle_start(fs) < 0 || uf_farm_start(fs) < 0) {
		ret = fail("cannot start the idle timer");
		goto out_inval;
	}
	/* One thread reads and answers requests; the pool takes the ones that
	 * may block (worker.h says why). */
	if (!cfg.single_thread)
		uf_worker_mark_loop_thread();
	ret = fuse_session_loop(se);
	uf_idle_stop(fs);
out_inval:
	uf_inval_stop(fs);
out_workers:
	uf_worker_stop(fs);
	/* libfuse reports the signal that ended the loop: that is a clean exit. */
	ret = !(ret == 0 || ret == SIGTERM || ret == SIGINT || ret == SIGHUP);
	uf_notify_stop(fs);
	uf_fs_unmounted(fs);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	uf_idle_stop(fs);
	uf_farm_free(fs);
	uf_fs_free(fs);
	/* After the fds are closed: the upper goes with them. */
	uf_tmpupper_cleanup(&tmpupper);
	uf_config_done(&cfg);
	return ret;
}
