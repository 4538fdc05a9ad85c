/* Command line parsing: the branch list (ours, "base:updates:upper"), the
 * overlayfs-style -o lowerdir=/upperdir=/workdir= form, our own -o options,
 * and the FUSE options we pass through to libfuse. Unknown options are
 * refused here, so the user gets one clear line instead of libfuse's. */
#include <stddef.h>
#include <string.h>

#include "unionfuse/params.h"

struct parse_state {
	struct uf_config *cfg;
	GPtrArray *positional; /* char * */
	char *lowerdir;	       /* g_malloc'd, as upperdir and workdir */
	char *upperdir;
	char *workdir;
	char *timeout;
	char *squash_uid; /* fuse_opt's malloc, as timeout */
	char *squash_gid;
	char *tmpupper_dir; /* g_malloc'd, as lowerdir */
	char *tmpupper_size; /* fuse_opt's malloc, as timeout */
	char *idle_timeout;
	char *lock_wait;
	char *farm_idle;
	char *spin;
	bool default_permissions; /* given: a /dev/fd/N mount has it */
	char *error;
};

enum {
	KEY_IGNORED,
	KEY_KEEP,
	KEY_USERXATTR,
};

#define OPT(t, field)                                     \
	{                                                 \
		t, offsetof(struct parse_state, field), 1 \
	}
#define CFG_OPT(t, field, v)                            \
	{                                               \
		t, offsetof(struct uf_config, field), v \
	}

static const struct fuse_opt state_opts[] = {
	OPT("timeout=%s", timeout),
	OPT("squash_to_uid=%s", squash_uid),
	OPT("squash_to_gid=%s", squash_gid),
	OPT("tmpupper_size=%s", tmpupper_size),
	OPT("idle_timeout=%s", idle_timeout),
	OPT("lock_wait=%s", lock_wait),
	OPT("farm_idle=%s", farm_idle),
	OPT("spin=%s", spin),
	FUSE_OPT_END,
};

static const struct fuse_opt config_opts[] = {
	CFG_OPT("ro", read_only, 1),	      CFG_OPT("rw", read_only, 0),
	CFG_OPT("writeback", writeback, 1),   CFG_OPT("writeback=1", writeback, 1),
	CFG_OPT("writeback=0", writeback, 0), CFG_OPT("nowriteback", writeback, 0),
	CFG_OPT("userxattr", userxattr, 1),   CFG_OPT("metacopy=on", metacopy, 1),
	CFG_OPT("metacopy=off", metacopy, 0), CFG_OPT("index=on", index, 1),
	CFG_OPT("index=off", index, 0),
	CFG_OPT("volatile", volatile_upper, 1), CFG_OPT("fsync=0", volatile_upper, 2),
	CFG_OPT("passthrough=on", passthrough, 2), CFG_OPT("passthrough=auto", passthrough, 1),
	CFG_OPT("passthrough=off", passthrough, 0),
	CFG_OPT("killpriv=on", killpriv, 1), CFG_OPT("killpriv=off", killpriv, 0),
	CFG_OPT("io_uring", io_uring, 1), CFG_OPT("io_uring=on", io_uring, 1),
	CFG_OPT("io_uring=off", io_uring, 0),
	CFG_OPT("tmpfile=on", tmpfile, 1), CFG_OPT("tmpfile=off", tmpfile, 0),
	/* Options of the kernel overlayfs and fuse-overlayfs that we implement. */
	CFG_OPT("noacl", noacl, 1), CFG_OPT("noxattrs=1", noxattrs, 1),
	CFG_OPT("static_nlink", static_nlink, 1), CFG_OPT("squash_to_root", squash_to_root, 1),
	CFG_OPT("redirect_dir=off", redirect_off, 1), CFG_OPT("threaded=0", threaded_off, 1),
	CFG_OPT("noallow_other", no_allow_other, 1),
	/* Deployments (docs/deployments.md). */
	CFG_OPT("tmpupper", tmpupper, 1), CFG_OPT("nolock", nolock, 1),
	CFG_OPT("farm_create", farm_create, 1), FUSE_OPT_END,
};

/* Options that mount(8), fstab and systemd use for themselves and may pass
 * on to the helper: accepted and dropped, as mount.fuse3 does. */
static const char *const mount8_opts[] = {
	"defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser", "users",
	"owner",    "group", "comment=", "x-", NULL,
};

/* The other options of the kernel overlayfs and fuse-overlayfs that change
 * what the union does. A value in @same describes what unionfuse always
 * does, so it is accepted; any other value is refused with @why, never
 * silently ignored: a user who asks for index=on must not believe to have
 * it. (metacopy=, redirect_dir=off, noxattrs=1, threaded=0 and the
 * implemented flags are matched by config_opts first.) */
static const struct {
	const char *name; /* "index=" takes a value; "volatile" does not */
	const char *same; /* '|'-separated accepted values, or NULL */
	const char *why;  /* why other values are refused; NULL: just bad values */
} compat_opts[] = {
	{ "redirect_dir=", "on|follow|off",
	  "redirects in the branches are always followed (redirect_dir=on)" },
	{ "index=", "on|off", NULL },
	{ "xino=", "on|auto", "st_ino is always made unique across branches (xino=on)" },
	{ "nfs_export=", "off", "there is no inode index to decode NFS file handles" },
	{ "uuid=", "null|off|auto", "no origin file handles are recorded, so no uuid is either" },
	{ "metacopy=", "on|off", NULL },
	{ "verity=", "off", "fs-verity digests of metacopy files are not checked" },
	{ "fsync=", "1", NULL },
	{ "fast_ino=", "0", "st_ino is always computed the one consistent way" },
	{ "threaded=", "0|1", NULL },
	{ "noxattrs=", "0|1", NULL },
	{ "xattr_permissions=", "0", "owners and modes live on the files themselves" },
	{ "plugins=", NULL, "there are no layer plugins" },
	{ "uidmapping=", NULL, "there is no uid mapping (squash_to_uid= reports one owner)" },
	{ "gidmapping=", NULL, "there is no gid mapping (squash_to_gid= reports one group)" },
};

/* Options that libfuse's session or mount code understands. */
static const char *const fuse_known_opts[] = {
	"allow_other",	"allow_root",	"default_permissions",
	"fsname=",	"subtype=",	"ro",
	"rw",		"suid",		"nosuid",
	"dev",		"nodev",	"exec",
	"noexec",	"atime",	"noatime",
	"relatime",	"strictatime",	"nodiratime",
	"diratime",	"sync",		"async",
	"dirsync",	"auto_unmount", "max_read=",
	"blkdev",	"blksize=",	"context=",
	"fscontext=",	"defcontext=",	"rootcontext=",
	"max_threads=", "lazytime",	"nolazytime",
	"iversion",	"noiversion",	"mand",
	"nomand",	NULL,
};

static const char *const dash_opts[] = {
	"-f", "-d", "-s", "-h", "--help", "-V", "--version", "-o", NULL,
};

/* Is @arg one of compat_opts? Returns 0 if it asks for what we do anyway,
 * -EINVAL with a message if it asks for something else, 1 if it is not one. */
static int compat_opt(const char *arg, char **reterr_msg)
{
	for (size_t i = 0; i < G_N_ELEMENTS(compat_opts); i++) {
		const char *name = compat_opts[i].name;
		size_t n = strlen(name);
		bool has_value = name[n - 1] == '=';

		if (has_value ? strncmp(arg, name, n) != 0 : strcmp(arg, name) != 0)
			continue;
		if (compat_opts[i].same) {
			g_auto(GStrv) same = g_strsplit(compat_opts[i].same, "|", -1);
			if (g_strv_contains((const char *const *)same, arg + n))
				return 0;
		}
		const char *why = compat_opts[i].why, *same = compat_opts[i].same;
		if (!why)
			*reterr_msg =
			    g_strdup_printf("bad value in -o %s (accepted: %s%s)", arg, name, same);
		else if (same)
			*reterr_msg = g_strdup_printf("-o %s is not supported: %s (accepted: %s%s)",
						      arg, why, name, same);
		else
			*reterr_msg = g_strdup_printf("-o %s is not supported: %s", arg, why);
		return -EINVAL;
	}
	return 1;
}

static bool opt_matches(const char *const *table, const char *arg)
{
	for (size_t i = 0; table[i]; i++) {
		size_t n = strlen(table[i]);
		bool prefix = table[i][n - 1] == '=' || table[i][n - 1] == '-'; /* "x-" */
		if (prefix ? strncmp(arg, table[i], n) == 0 : strcmp(arg, table[i]) == 0)
			return true;
	}
	return false;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_state *s = data;
	(void)outargs;

	if (key == FUSE_OPT_KEY_NONOPT) {
		g_ptr_array_add(s->positional, g_strdup(arg));
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT)
		return 1;
	if (arg[0] == '-') {
		if (opt_matches(dash_opts, arg))
			return 1;
		if (!s->error)
			s->error = g_strdup_printf("unknown option '%s' (see --help)", arg);
		return -1;
	}
	int r = compat_opt(arg, &s->error);
	if (r <= 0)
		return r < 0 ? -1 : 0; /* fuse_opt: -1 fails, 0 drops the option */
	if (opt_matches(fuse_known_opts, arg)) {
		if (strcmp(arg, "allow_other") == 0 || strcmp(arg, "allow_root") == 0)
			s->cfg->allow_given = true;
		if (g_str_has_prefix(arg, "fsname="))
			s->cfg->fsname_given = true;
		if (strcmp(arg, "default_permissions") == 0)
			s->default_permissions = true;
		return 1;
	}
	if (opt_matches(mount8_opts, arg))
		return 0;
	if (!s->error)
		s->error = g_strdup_printf("unknown option '-o %s' (see --help)", arg);
	return -1;
}

/* Take lowerdir=, upperdir= and workdir= out of every -o list before libfuse
 * parses it: its parser would eat the backslash of "\:" in a path. Returns
 * the remaining argv in @out. */
static void take_path_opts(int argc, char **argv, struct parse_state *s, GPtrArray *out)
{
	static const struct {
		const char *prefix;
		size_t off;
	} keys[] = {
		{ "lowerdir=", offsetof(struct parse_state, lowerdir) },
		{ "upperdir=", offsetof(struct parse_state, upperdir) },
		{ "workdir=", offsetof(struct parse_state, workdir) },
		{ "tmpupper=", offsetof(struct parse_state, tmpupper_dir) },
	};

	for (int i = 0; i < argc; i++) {
		const char *list = NULL;
		if (i > 0 && strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			list = argv[++i];
		else if (i > 0 && g_str_has_prefix(argv[i], "-o"))
			list = argv[i] + 2;
		if (!list) {
			g_ptr_array_add(out, g_strdup(argv[i]));
			continue;
		}
		g_autoptr(GString) rest = g_string_new(NULL);
		g_autoptr(GString) tok = g_string_new(NULL);
		for (const char *p = list;; p++) {
			if (*p == '\\' && p[1]) {
				g_string_append_c(tok, *p++);
				g_string_append_c(tok, *p);
				continue;
			}
			if (*p != ',' && *p != '\0') {
				g_string_append_c(tok, *p);
				continue;
			}
			bool taken = false;
			for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
				if (g_str_has_prefix(tok->str, keys[k].prefix)) {
					char **field = (char **)((char *)s + keys[k].off);
					g_free(*field);
					*field = g_strdup(tok->str + strlen(keys[k].prefix));
					taken = true;
				}
			}
			if (!taken && tok->len) {
				if (rest->len)
					g_string_append_c(rest, ',');
				g_string_append_len(rest, tok->str, tok->len);
			}
			g_string_truncate(tok, 0);
			if (*p == '\0')
				break;
		}
		if (rest->len)
			g_ptr_array_add(out, g_strconcat("-o", rest->str, NULL));
	}
}

/* Split @spec at each ':' not escaped by a backslash, keeping empty parts
 * (a "::" gives one). */
static GPtrArray *split_keep_empty(const char *spec)
{
	GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) cur = g_string_new(NULL);

	for (const char *p = spec;; p++) {
		if (*p == '\\' && (p[1] == ':' || p[1] == '\\' || p[1] == ',')) {
			g_string_append_c(cur, *++p);
			continue;
		}
		if (*p != ':' && *p != '\0') {
			g_string_append_c(cur, *p);
			continue;
		}
		g_ptr_array_add(parts, g_strdup(cur->str));
		g_string_truncate(cur, 0);
		if (*p == '\0')
			break;
	}
	return parts;
}

int uf_params_split(const char *spec, GPtrArray **ret_parts, char **reterr_msg)
{
	g_autoptr(GPtrArray) parts = split_keep_empty(spec);

	for (unsigned i = 0; i < parts->len; i++)
		if (!*(const char *)parts->pdata[i]) {
			*reterr_msg = g_strdup_printf("empty branch in '%s'", spec);
			return -EINVAL;
		}
	*ret_parts = g_steal_pointer(&parts);
	return 0;
}

int uf_params_split_layers(const char *spec, bool bottom_first, GPtrArray **ret_parts,
			   unsigned *ret_n_data, char **reterr_msg)
{
	g_autoptr(GPtrArray) t = split_keep_empty(spec);
	g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
	unsigned n_data = 0;
	guint i = 0;

	if (bottom_first)
		for (guint a = 0, b = t->len - 1; a < b; a++, b--) {
			gpointer x = t->pdata[a];
			t->pdata[a] = t->pdata[b];
			t->pdata[b] = x;
		}
	/* Top-first now: plain layers, then "::"-separated data-only ones. */
	for (; i < t->len && *(char *)t->pdata[i]; i++)
		g_ptr_array_add(parts, g_strdup(t->pdata[i]));
	while (i < t->len) {
		/* At an empty part: it must be one "::" and a data layer. */
		if (parts->len == 0 || i + 1 >= t->len || !*(char *)t->pdata[i + 1]) {
			*reterr_msg = g_strdup_printf("empty branch in '%s'", spec);
			return -EINVAL;
		}
		g_ptr_array_add(parts, g_strdup(t->pdata[i + 1]));
		n_data++;
		i += 2;
		if (i < t->len && *(char *)t->pdata[i]) {
			*reterr_msg =
			    g_strdup_printf("in '%s' a plain branch follows a data-only "
					    "one: give each data-only branch after a '::'",
					    spec);
			return -EINVAL;
		}
	}
	*ret_parts = g_steal_pointer(&parts);
	*ret_n_data = n_data;
	return 0;
}

int uf_params_parse_branches(const char *spec, struct uf_config *c, char **reterr_msg)
{
	g_autoptr(GPtrArray) parts = NULL;
	unsigned n_data;
	int r = uf_params_split_layers(spec, true, &parts, &n_data, reterr_msg);
	if (r < 0)
		return r;
	if (parts->len - n_data < 2) {
		*reterr_msg =
		    g_strdup_printf("'%s' names one branch; give LOWER[:LOWER...]:UPPER", spec);
		return -EINVAL;
	}
	/* Bottom to top on the command line; top-first inside. */
	for (guint i = 0; i < parts->len; i++)
		g_ptr_array_add(c->branches, g_strdup(parts->pdata[i]));
	c->n_data = n_data;
	c->has_upper = true;
	return 0;
}

static int parse_seconds(const char *opt, const char *s, double *ret, char **reterr_msg)
{
	char *end = NULL;
	double v = g_ascii_strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= 0.0 && v <= 86400.0 * 365)) {
		*reterr_msg = g_strdup_printf("bad %s '%s': want seconds >= 0", opt, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* A uid or gid: decimal, 0 to 2^32 - 2 ((uid_t)-1 means "unchanged"). */
static int parse_id(const char *opt, const char *s, int64_t *ret, char **reterr_msg)
{
	guint64 v;

	if (!g_ascii_string_to_unsigned(s, 10, 0, UINT32_MAX - 1, &v, NULL)) {
		*reterr_msg = g_strdup_printf("bad -o %s%s: want a number from 0 to %u", opt, s,
					      UINT32_MAX - 1);
		return -EINVAL;
	}
	*ret = (int64_t)v;
	return 0;
}

/* -o squash_to_root and squash_to_uid=/squash_to_gid= (fuse-overlayfs):
 * the latter win over the former. */
static int finish_squash(struct parse_state *s, char **reterr_msg)
{
	struct uf_config *c = s->cfg;
	int r;

	if (c->squash_to_root)
		c->squash_uid = c->squash_gid = 0;
	if (s->squash_uid &&
	    (r = parse_id("squash_to_uid=", s->squash_uid, &c->squash_uid, reterr_msg)) < 0)
		return r;
	if (s->squash_gid &&
	    (r = parse_id("squash_to_gid=", s->squash_gid, &c->squash_gid, reterr_msg)) < 0)
		return r;
	return 0;
}

/* A tmpfs size= value: a number with an optional k/m/g/% suffix. */
static bool valid_size(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && (v[n] == '\0' || (strchr("kKmMgG%", v[n]) && v[n + 1] == '\0'));
}

/* -o spin=MICROSECONDS (io.c). */
static int finish_spin(struct parse_state *s, char **reterr_msg)
{
	if (!s->spin)
		return 0;
	char *end = NULL;
	guint64 us = g_ascii_strtoull(s->spin, &end, 10);
	if (end == s->spin || *end != '\0' || us > UF_SPIN_MAX_US) {
		*reterr_msg = g_strdup_printf("bad spin '%s': want microseconds, 0 to %d", s->spin,
					      UF_SPIN_MAX_US);
		return -EINVAL;
	}
	s->cfg->spin_us = (int)us;
	return 0;
}

/* -o tmpupper=DIR/tmpupper_size=, idle_timeout=, lock_wait=. */
static int finish_deploy(struct parse_state *s, char **reterr_msg)
{
	struct uf_config *c = s->cfg;
	int r;

	if (s->tmpupper_dir) {
		if (!*s->tmpupper_dir) {
			*reterr_msg = g_strdup("-o tmpupper= needs a directory");
			return -EINVAL;
		}
		c->tmpupper = 1;
		c->tmpupper_dir = g_steal_pointer(&s->tmpupper_dir);
	}
	if (s->tmpupper_size) {
		if (!c->tmpupper || c->tmpupper_dir) {
			*reterr_msg = g_strdup("-o tmpupper_size= is the size of the tmpfs of "
					       "-o tmpupper (without =DIR)");
			return -EINVAL;
		}
		if (!valid_size(s->tmpupper_size)) {
			*reterr_msg = g_strdup_printf("bad -o tmpupper_size=%s: want a number "
						      "with k, m, g or %%", s->tmpupper_size);
			return -EINVAL;
		}
		c->tmpupper_size = g_strdup(s->tmpupper_size);
	}
	if (s->idle_timeout) {
		r = parse_seconds("idle_timeout", s->idle_timeout, &c->idle_timeout, reterr_msg);
		if (r < 0)
			return r;
	}
	if (s->farm_idle) {
		r = parse_seconds("farm_idle", s->farm_idle, &c->farm_idle, reterr_msg);
		if (r < 0)
			return r;
	}
	if (s->lock_wait) {
		r = parse_seconds("lock_wait", s->lock_wait, &c->lock_wait, reterr_msg);
		if (r < 0)
			return r;
		if (c->nolock) {
			*reterr_msg = g_strdup("-o lock_wait= contradicts -o nolock");
			return -EINVAL;
		}
	}
	return 0;
}

static void config_init(struct uf_config *c)
{
	*c = (struct uf_config){
		.branches = g_ptr_array_new_with_free_func(g_free),
		.timeout = UF_DEFAULT_TIMEOUT,
		.metacopy = 0, /* as the kernel's default: its upper mounts anywhere */
		.passthrough = 1,
		.killpriv = 1,
		.tmpfile = 1,
		.squash_uid = -1,
		.squash_gid = -1,
		.lock_wait = -1.0,
		.farm_idle = 300.0,
		.spin_us = UF_SPIN_DEFAULT_US,
		.fuse_args = FUSE_ARGS_INIT(0, NULL),
	};
}

static int finish_branches(struct parse_state *s, char **reterr_msg)
{
	struct uf_config *c = s->cfg;
	GPtrArray *pos = s->positional;
	int r;

	if (c->tmpupper && (s->upperdir || s->workdir || c->read_only)) {
		*reterr_msg = g_strdup_printf("-o tmpupper makes the upper: it excludes -o %s",
					      s->upperdir ? "upperdir=" : s->workdir ? "workdir=" : "ro");
		return -EINVAL;
	}
	if (s->lowerdir) {
		/* mount(8) passes a "source" before the mount point: it only
		 * names the mount (the fsname), as for the kernel overlayfs. */
		if (pos->len < 1 || pos->len > 2) {
			*reterr_msg = g_strdup("give exactly one MOUNTPOINT with -o lowerdir=");
			return -EINVAL;
		}
		if (s->upperdir && !*s->upperdir) {
			*reterr_msg = g_strdup("-o upperdir= is empty");
			return -EINVAL;
		}
		g_autoptr(GPtrArray) lowers = NULL;
		r = uf_params_split_layers(s->lowerdir, false, &lowers, &c->n_data, reterr_msg);
		if (r < 0)
			return r;
		if (pos->len == 2)
			c->source = g_strdup(pos->pdata[0]);
		c->has_upper = c->tmpupper;
		/* With -o ro the upper is just the topmost lower. */
		if (s->upperdir) {
			g_ptr_array_add(c->branches, g_strdup(s->upperdir));
			c->has_upper = !c->read_only;
		}
		for (guint i = 0; i < lowers->len; i++)
			g_ptr_array_add(c->branches, g_strdup(lowers->pdata[i]));
		c->mountpoint = g_strdup(pos->pdata[pos->len - 1]);
		return 0;
	}
	if (s->upperdir) {
		*reterr_msg = g_strdup("-o upperdir= needs -o lowerdir=");
		return -EINVAL;
	}
	if (pos->len != 2) {
		*reterr_msg = g_strdup(pos->len < 2 ? "missing BRANCHES or MOUNTPOINT (see --help)"
						    : "too many arguments (see --help)");
		return -EINVAL;
	}
	c->source = g_strdup(pos->pdata[0]);
	if (c->tmpupper) {
		/* Only lowers, bottom to top; the upper comes from tmpupper.c. */
		g_autoptr(GPtrArray) lowers = NULL;
		r = uf_params_split_layers(pos->pdata[0], true, &lowers, &c->n_data, reterr_msg);
		if (r < 0)
			return r;
		for (guint i = 0; i < lowers->len; i++)
			g_ptr_array_add(c->branches, g_strdup(lowers->pdata[i]));
		c->has_upper = true;
		c->mountpoint = g_strdup(pos->pdata[1]);
		return 0;
	}
	r = uf_params_parse_branches(pos->pdata[0], c, reterr_msg);
	if (r < 0)
		return r;
	if (c->read_only) {
		/* -o ro: the last branch is just another lower. */
		c->has_upper = false;
	}
	c->mountpoint = g_strdup(pos->pdata[1]);
	return 0;
}

int uf_params_parse(int argc, char **argv, struct uf_config *c, char **reterr_msg)
{
	struct parse_state s = { .cfg = c };
	struct fuse_cmdline_opts fo = { 0 };
	int r = -EINVAL;

	config_init(c);
	s.positional = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
	take_path_opts(argc, argv, &s, args);
	for (guint i = 0; i < args->len; i++)
		fuse_opt_add_arg(&c->fuse_args, args->pdata[i]);
	c->workdir = g_steal_pointer(&s.workdir);
	/* fuse_opt_parse() with a NULL template only collects; run ours in
	 * two passes: our fields first, then the filtering proc. */
	if (fuse_opt_parse(&c->fuse_args, c, config_opts, NULL) < 0 ||
	    fuse_opt_parse(&c->fuse_args, &s, state_opts, opt_proc) < 0) {
		*reterr_msg =
		    s.error ? g_steal_pointer(&s.error) : g_strdup("cannot parse the command line");
		goto out;
	}
	if (fuse_parse_cmdline(&c->fuse_args, &fo) < 0) {
		*reterr_msg = g_strdup("cannot parse the command line");
		goto out;
	}
	c->foreground = fo.foreground;
	c->debug = fo.debug;
	c->single_thread = fo.singlethread || c->threaded_off;
	c->show_help = fo.show_help;
	c->show_version = fo.show_version;
	free(fo.mountpoint); /* we took the positionals ourselves */
	if (c->show_help || c->show_version) {
		r = 0;
		goto out;
	}
	if (s.timeout) {
		r = parse_seconds("timeout", s.timeout, &c->timeout, reterr_msg);
		c->timeout_set = true;
		if (r < 0)
			goto out;
	}
	r = finish_squash(&s, reterr_msg);
	if (r < 0)
		goto out;
	r = finish_deploy(&s, reterr_msg);
	if (r == 0)
		r = finish_spin(&s, reterr_msg);
	if (r < 0)
		goto out;
	if (c->no_allow_other && c->allow_given) {
		*reterr_msg = g_strdup("-o noallow_other contradicts -o allow_other/allow_root");
		r = -EINVAL;
		goto out;
	}
	r = finish_branches(&s, reterr_msg);
	/* mount.fuse3's drop_privileges mounts first and passes the fd: there
	 * is no path the daemon could unmount (nor the privilege to). */
	if (r == 0 && c->idle_timeout > 0 && g_str_has_prefix(c->mountpoint, "/dev/fd/")) {
		*reterr_msg = g_strdup("-o idle_timeout cannot unmount a mount point passed as "
				       "/dev/fd/N (mount.fuse3 -o drop_privileges)");
		r = -EINVAL;
	}
	/* There mount.fuse3 has made the kernel mount with the options as
	 * given, before we run: allow_other without default_permissions
	 * would let every user act with the daemon's rights. */
	if (r == 0 && g_str_has_prefix(c->mountpoint, "/dev/fd/") && c->allow_given &&
	    !s.default_permissions) {
		*reterr_msg = g_strdup("with a /dev/fd/N mount point (mount.fuse3 -o "
				       "drop_privileges) -o allow_other needs -o default_permissions "
				       "too: the kernel mount is made with the options as given");
		r = -EINVAL;
	}
	/* A union without an upper is a read-only mount for the kernel too, so
	 * every write fails with EROFS before it reaches us. */
	if (r == 0 && !c->has_upper)
		fuse_opt_add_arg(&c->fuse_args, "-oro");
out:
	g_ptr_array_unref(s.positional);
	g_free(s.lowerdir);
	g_free(s.upperdir);
	g_free(s.workdir);
	g_free(s.tmpupper_dir);
	free(s.tmpupper_size);
	free(s.idle_timeout);
	free(s.lock_wait);
	free(s.spin);
	free(s.farm_idle);
	free(s.timeout);
	free(s.squash_uid);
	free(s.squash_gid);
	g_free(s.error);
	return r;
}

void uf_config_done(struct uf_config *c)
{
	if (c->branches)
		g_ptr_array_unref(c->branches);
	g_free(c->workdir);
	g_free(c->mountpoint);
	g_free(c->source);
	g_free(c->tmpupper_dir);
	g_free(c->tmpupper_size);
	fuse_opt_free_args(&c->fuse_args);
	*c = (struct uf_config){ 0 };
}
