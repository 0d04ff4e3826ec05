#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "util.h"

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static int strv_consume(char ***v, size_t *n, char *s)
{
	char **grown;

	if (!s)
		return -ENOMEM;
	grown = realloc(*v, (*n + 2) * sizeof(char *));
	if (!grown) {
		free(s);
		return -ENOMEM;
	}
	*v = grown;
	grown[*n] = s;
	grown[++*n] = NULL;
	return 0;
}

int strv_push(char ***v, size_t *n, const char *s)
{
	return strv_consume(v, n, strdup(s));
}

int strv_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void strv_sort(char **v)
{
	qsort(v, strv_length(v), sizeof(char *), strv_compare);
}

int strv_from_dir(const char *dir, const char *suffix, bool (*keep)(const char *name, void *userdata), void *userdata,
		  char ***ret)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_strv_free_ char **v = NULL;
	size_t n = 0, slen = suffix ? strlen(suffix) : 0;
	struct dirent *de;
	int r;

	if (!d)
		return negative_errno();
	v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (errno = 0; (de = readdir(d)); errno = 0) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (suffix && (len <= slen || !streq(de->d_name + len - slen, suffix)))
			continue;
		if (keep && !keep(de->d_name, userdata))
			continue;
		r = strv_consume(&v, &n, strndup(de->d_name, len - slen));
		if (r < 0)
			return r;
	}
	if (errno)
		return negative_errno();
	strv_sort(v);
	*ret = TAKE_PTR(v);
	return 0;
}
