/* The farm's own structures, shared by farm.c (the table of sandboxes),
 * farmops.c (request routing, the farm root) and farmuse.c (what uses a
 * sandbox unseen). Not for the rest of the daemon: that has farm.h. */
#pragma once

#include "unionfuse/params.h"
#include "unionfuse/types.h"

/* st_ino of a sandbox's object: the union's value XOR (number << 40), so
 * sandboxes never share one while real inode numbers stay below 2^40
 * (docs/deployments.md). 16 bits: 65,535 names per daemon. */
#define UF_FARM_SLOT_SHIFT 40
#define UF_FARM_SLOTS 65535u

struct uf_sandbox {
	char *name;
	struct uf_fs *fs;
	uint64_t root_nlookup; /* farm->lock: the kernel's lookups of fs->root */
	int64_t last_inval;    /* farm thread only: when its name was last invalidated */
};

struct uf_farm {
	struct uf_fs *base;   /* the read-only union of the lowers: the session's */
	struct uf_config tmpl; /* a sandbox's configuration but its upper/workdir */
	char *parent;	      /* the directory of the uppers (the template's), resolved */
	int parent_fd;
	char *work_parent; /* of the workdirs, or NULL (a positional upper has none) */
	int work_fd;
	char *mountpoint; /* resolved, for farmuse.c; NULL with /dev/fd/N */
	bool create;  /* -o farm_create */
	int64_t idle; /* -o farm_idle, microseconds; 0: never dropped */

	GMutex lock;
	GHashTable *sandboxes; /* lock: name -> struct uf_sandbox *, those up */
	GHashTable *slots;     /* lock: name -> its number, for the daemon's life */
	unsigned next_slot;    /* lock */

	GThread *thread; /* drops idle sandboxes */
	int stop_fd;	 /* eventfd: stop it */
};

/* A single path component, no dot name (hidden, ".", ".."), no '%', no
 * control character. */
bool uf_farm_name_valid(const char *name);

/* The number of sandbox @name (see UF_FARM_SLOTS), or 0 when none is left.
 * Caller holds farm->lock. */
unsigned uf_farm_slot_locked(struct uf_farm *farm, const char *name);

/* The kernel looks up @name in the farm root: bring it up if needed and
 * count the lookup. Returns 0 and the sandbox, or -errno (-ENOENT for an
 * invalid name or one without an upper). Takes farm->lock. */
int uf_farm_lookup_root(struct uf_farm *farm, const char *name, struct uf_sandbox **ret);

/* The kernel forgot @n lookups of sandbox @fs's root. Takes farm->lock. */
void uf_farm_root_unlookup(struct uf_farm *farm, struct uf_fs *fs, uint64_t n);

/* farmuse.c: the names of the sandboxes in use in ways no request shows
 * (a process's cwd or root inside, a bind mount of one, a mount inside),
 * which must not be invalidated; or NULL when that cannot be told. Reads
 * /proc; takes farm->lock at the end. */
GHashTable *uf_farm_used_names(struct uf_farm *farm);

/* Free @farm and every sandbox in it (farm.c). */
void uf_farm_destroy(struct uf_farm *farm);
