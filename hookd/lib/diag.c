#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void diag_add(struct diag *d, const char *fmt, ...)
{
	char **grown;
	char *line;
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	grown = realloc(d->lines, (d->n + 1) * sizeof(*grown));
	if (!grown) {
		free(line);
		return;
	}
	d->lines = grown;
	d->lines[d->n++] = line;
}

char *diag_join(const struct diag *d, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *out, *p;

	if (!d || d->n == 0)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		len += strlen(d->lines[i]) + seplen;
	out = p = malloc(len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		if (i)
			p = stpcpy(p, sep);
		p = stpcpy(p, d->lines[i]);
	}
	*p = '\0';
	return out;
}

void diag_clear(struct diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = 0;
}
