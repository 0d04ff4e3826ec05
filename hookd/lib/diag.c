#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* Take line into the list. 0 or -ENOMEM (line is freed either way when it is not kept). */
static int diag_push(struct diag *d, char *line)
{
	char **grown;

	if (!line)
		return -ENOMEM;
	grown = realloc(d->lines, (d->n + 1) * sizeof(*grown));
	if (!grown) {
		free(line);
		return -ENOMEM;
	}
	d->lines = grown;
	d->lines[d->n++] = line;
	return 0;
}

void diag_add(struct diag *d, const char *fmt, ...)
{
	char *line;
	va_list ap;

	if (!d)
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	(void)diag_push(d, line);
}

int diag_vadd_at(struct diag *d, const char *label, unsigned line, const char *fmt, va_list ap)
{
	char *msg, *full;
	int n;

	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	if (!d) {
		free(msg);
		return 0;
	}
	n = line ? asprintf(&full, "%s:%u: %s", label, line, msg) : asprintf(&full, "%s: %s", label, msg);
	free(msg);
	return diag_push(d, n < 0 ? NULL : full);
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
