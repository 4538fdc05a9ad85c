/* What the layer tools (diff, check) share: opening the branch stack named
 * on the command line, paths inside a branch, and printing hostile names. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "unionfuse/params.h"
#include "unionfuse/tool.h"
#include "unionfuse/util.h"

int uf_tool_open_stack(const char *tool, const char *spec, bool userxattr, struct uf_stack *s)
{
	g_autoptr(GPtrArray) parts = NULL;
	g_autofree char *err = NULL;
	int r = uf_params_split(spec, &parts, &err);

	*s = (struct uf_stack){ .upper_fd = -1 };
	if (r == 0)
		r = uf_stack_open((char *const *)parts->pdata, parts->len,
				  userxattr || geteuid() != 0, s, &err);
	if (r < 0)
		fprintf(stderr, "unionfuse %s: %s\n", tool, err);
	return r;
}

static int cmp_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int uf_tool_list_dir(int dfd, GCompareFunc cmp, GPtrArray **ret)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!dir) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			g_ptr_array_add(names, g_strdup(de->d_name));
	closedir(dir);
	g_ptr_array_sort(names, cmp ? cmp : cmp_names);
	*ret = names;
	return 0;
}

char *uf_tool_join(const char *dir, const char *name)
{
	return *dir ? g_strconcat(dir, "/", name, NULL) : g_strdup(name);
}

char *uf_tool_redirect_source(const char *lpath, const char *rd)
{
	if (rd[0] == '/')
		return g_strdup(rd + 1);
	if (!lpath)
		return NULL;
	const char *slash = strrchr(lpath, '/');
	if (!slash)
		return g_strdup(rd);
	return g_strdup_printf("%.*s/%s", (int)(slash - lpath), lpath, rd);
}

void uf_tool_print_quoted(FILE *f, const char *s)
{
	bool plain = true;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			plain = false;
	if (plain) {
		fputs(s, f);
		return;
	}
	/* As git quotes a path: a name from a branch may hold a newline. */
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void uf_tool_print_json_string(FILE *f, const char *s)
{
	const char *p = s, *end = s + strlen(s);

	fputc('"', f);
	while (p < end) {
		gunichar c = g_utf8_get_char_validated(p, end - p);
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			/* Not UTF-8: the byte as a lone surrogate U+DCxx, as
			 * Python's surrogateescape reads file names. */
			fprintf(f, "\\udc%02x", (unsigned char)*p);
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", (char)c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fwrite(p, 1, g_utf8_next_char(p) - p, f);
		p = g_utf8_next_char(p);
	}
	fputc('"', f);
}
