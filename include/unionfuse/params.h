/* Command line -> struct uf_config. Pure: touches no file, so it is unit
 * tested without a mount. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Cache timeouts, seconds (docs/usage.md): long while the lowers are watched
 * for changes, short when they cannot be. */
#define UF_WATCHED_TIMEOUT 86400.0
#define UF_DEFAULT_TIMEOUT 1.0

/* -o spin=: how long the loop thread waits awake for the next request
 * (io.c), microseconds. */
#define UF_SPIN_DEFAULT_US 50
#define UF_SPIN_MAX_US 10000

struct uf_config {
	GPtrArray *branches; /* char *, top-first: the upper (if any), then lowers */
	unsigned n_data;     /* the last n_data of ->branches are data-only lowers */
	bool has_upper;
	char *workdir;
	char *mountpoint;
	double timeout;
	bool timeout_set; /* -o timeout= given */
	/* int, not bool: fuse_opt_parse() stores an int through these. */
	int read_only;
	int writeback;
	int userxattr; /* user.overlay.* instead of trusted.overlay.* */
	int metacopy;  /* metadata-only copy-up (default off, as the kernel) */
	int index;     /* index=on: lower hard links stay one inode (index.c); default off */
	/* -o volatile (1, the kernel's: a marker in the workdir refuses the next
	 * mount after a crash) or fsync=0 (2, fuse-overlayfs's): no fsync of
	 * copies, fsync and syncfs through the union do nothing. */
	int volatile_upper;
	int passthrough; /* FUSE passthrough: 0 off, 1 auto (default), 2 on (passthrough.c) */
	int killpriv;	 /* FUSE_HANDLE_KILLPRIV_V2 where libfuse has it (default on) */
	int io_uring;	 /* FUSE over io_uring where libfuse and the kernel have it */
	int tmpfile;	 /* O_TMPFILE through the union where libfuse has .tmpfile (default on) */
	/* Options of the kernel overlayfs and fuse-overlayfs (docs/usage.md). */
	int noacl;	  /* no POSIX ACLs: system.posix_acl_* hidden and refused */
	int noxattrs;	  /* no xattrs at all through the union */
	int static_nlink; /* every directory reports st_nlink 1 */
	int redirect_off; /* redirect_dir=off: renaming a dir with lower parts is EXDEV */
	int threaded_off; /* threaded=0: as -s */
	int squash_to_root;
	int64_t squash_uid; /* st_uid every object reports, or -1 for the real one */
	int64_t squash_gid;
	/* allow_other: on by default for root (main.c); -o noallow_other turns it
	 * off; given explicitly (or allow_root), libfuse gets it as given. */
	int no_allow_other;
	bool allow_given;
	bool fsname_given; /* -o fsname= given: it replaces our default */

	/* Deployments (docs/deployments.md). */
	char *source;	     /* the branch list or mount(8)'s source, as given: the fsname */
	int tmpupper;	     /* -o tmpupper[=DIR]: only lowers given, the upper is ephemeral */
	char *tmpupper_dir;  /* -o tmpupper=DIR, or NULL for a private tmpfs (root) */
	char *tmpupper_size; /* -o tmpupper_size=: size= of that tmpfs, or NULL */
	double idle_timeout; /* -o idle_timeout=SECONDS; 0: never */
	int nolock;	     /* -o nolock: no shared lock on the lowers */
	double lock_wait;    /* -o lock_wait=SECONDS for a locked lower; < 0: forever */
	/* -o farm (farm.c): an upper path with %n serves one sandbox per name. */
	int farm_create;  /* -o farm_create: make a missing sandbox upper */
	double farm_idle; /* -o farm_idle=SECONDS: drop an idle sandbox (default 300) */
	int spin_us;	  /* -o spin=MICROSECONDS: wait for the next request awake (io.c) */
	int farm;	  /* farm.c's own: 1 the farm's base union, 2 a sandbox */
	struct uf_fs *farm_base; /* with farm 2: the union whose lowers it shares */

	bool foreground;
	bool debug;
	bool single_thread;
	bool show_help;
	bool show_version;

	struct fuse_args fuse_args; /* what is left for libfuse's session */
};

/* Split @spec on ':' not preceded by '\', unescaping "\:" and "\\".
 * Returns 0 and a new array of strings in *ret_parts, or -EINVAL with a
 * message in *reterr_msg when a part is empty. */
int uf_params_split(const char *spec, GPtrArray **ret_parts, char **reterr_msg);

/* Split a branch list that may end in data-only layers, the kernel's
 * "L1:L2::D1::D2" (top-first; @bottom_first: our "D2::D1::L2:L1:UPPER").
 * Returns 0, the parts top-first (plain ones, then the data-only ones) in a
 * new array in *ret_parts and the number of data-only ones, or -EINVAL with
 * a message. */
int uf_params_split_layers(const char *spec, bool bottom_first, GPtrArray **ret_parts,
			   unsigned *ret_n_data, char **reterr_msg);

/* Parse "[DATA::...]LOWER[:LOWER...]:UPPER" (bottom to top) into @c->branches.
 * Returns 0 or -EINVAL with *reterr_msg set. */
int uf_params_parse_branches(const char *spec, struct uf_config *c, char **reterr_msg);

/* Parse the whole argv. Returns 0, or -EINVAL with *reterr_msg set.
 * After success with show_help/show_version set, other fields may be empty.
 * With tmpupper, has_upper is set but ->branches holds only the lowers until
 * uf_tmpupper_setup() puts the upper first. */
int uf_params_parse(int argc, char **argv, struct uf_config *c, char **reterr_msg);

void uf_config_done(struct uf_config *c);
