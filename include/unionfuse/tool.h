/* Subcommands of the one unionfuse binary: `unionfuse WORD ARGS...` runs the
 * tool WORD when it is one (src/tools/tool.c has the table); anything else
 * is a mount. A branch list that is just a tool's name is written ./WORD. */
#pragma once

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
