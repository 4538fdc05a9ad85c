/* The table of subcommands: `unionfuse lock ...`. A new tool is one file
 * in this directory and one line here. */
#include <stdio.h>
#include <string.h>

#include "unionfuse/tool.h"

static const struct uf_tool tools[] = {
	{ "lock", "run a command while no mount uses a branch (unionfuse-lock(8))", uf_tool_lock },
	{ "diff", "what an upper changes in the union (unionfuse-diff(8))", uf_tool_diff },
	{ "check", "find (and --repair) what a crash or a hand edit left (unionfuse-check(8))",
	  uf_tool_check },
	{ "merge", "fold an upper into the lower below it (unionfuse-merge(8))", uf_tool_merge },
	{ "unify", "move files sandboxes share into a data-only store (unionfuse-unify(8))",
	  uf_tool_unify },
};

const struct uf_tool *uf_tool_find(const char *word)
{
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(word, tools[i].name) == 0)
			return &tools[i];
	return NULL;
}

void uf_tools_list(void)
{
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		printf("    %-8s %s\n", tools[i].name, tools[i].summary);
}
