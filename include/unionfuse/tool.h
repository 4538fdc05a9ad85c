/* Subcommands of the one unionfuse binary: `unionfuse WORD ARGS...` runs the
 * tool WORD when it is one (src/tools/tool.c has the table); anything else
 * is a mount. A branch list that is just a tool's name is written ./WORD. */
#pragma once

#include <glib.h>

#include <stdbool.h>
#include <stdio.h>

#include "unionfuse/layer/stack.h"

struct uf_tool {
	const char *name;
	const char *summary; /* one line, for --help */
	/* argv[0] is the tool's name. Returns the process's exit status. */
	int (*main)(int argc, char **argv);
};

/* The tool called @word, or NULL. */
const struct uf_tool *uf_tool_find(const char *word);

/* Print "  NAME  SUMMARY" for each tool (usage texts). */
void uf_tools_list(void);

/* The tools, one file each in src/tools/. */
int uf_tool_lock(int argc, char **argv);
int uf_tool_diff(int argc, char **argv);
int uf_tool_check(int argc, char **argv);
int uf_tool_unify(int argc, char **argv);
int uf_tool_merge(int argc, char **argv);

/* check's walk of the upper of @s (locked by the caller), for merge:
 * temporaries are removed, every other problem is printed as `check`
 * prints it and left. Returns how many are left (an operational error
 * counts as one). */
unsigned uf_check_for_merge(const struct uf_stack *s);

/* Shared by the layer tools (common.c). */

/* Open the branches of @spec ("LOWER[:LOWER...]:UPPER") into @s, with the
 * user.overlay.* names when @userxattr or not root (as the daemon). Returns
 * 0, or -errno after one line "unionfuse TOOL: ..." on stderr. The caller
 * calls uf_stack_done() either way. */
int uf_tool_open_stack(const char *tool, const char *spec, bool userxattr, struct uf_stack *s);

/* The names in directory @dfd but "." and "..", sorted by @cmp (strcmp
 * on the names when NULL), in a new array in *ret. Returns 0 or -errno. */
int uf_tool_list_dir(int dfd, GCompareFunc cmp, GPtrArray **ret);

/* "@dir/@name", or @name when @dir is "" (the root). A new string. */
char *uf_tool_join(const char *dir, const char *name);

/* The lower path a redirect @rd leads to, of an entry whose own lower path
 * is @lpath (NULL: nothing below its parent): an absolute one from the
 * lowers' root, a relative one an entry of the same parent (NULL when there
 * is none). A new string. */
char *uf_tool_redirect_source(const char *lpath, const char *rd);

/* Print @s as it is, or in double quotes with C escapes when it holds a
 * control character, '"' or '\\' (a name from a branch may hold '\n'). */
void uf_tool_print_quoted(FILE *f, const char *s);

/* Print @s as a JSON string; bytes that are not UTF-8 become U+DC80..
 * U+DCFF (as Python's surrogateescape decodes them). */
void uf_tool_print_json_string(FILE *f, const char *s);
