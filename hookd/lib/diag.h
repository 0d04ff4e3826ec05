/* A list of user-facing problems ("file:line: message"), collected so that all of them can be shown at once. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct diag {
	char **lines;
	size_t n;
};

void diag_add(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add "label:line: message" ("label: message" when line is 0, for a file as a whole). 0 or -ENOMEM. */
int diag_vadd_at(struct diag *d, const char *label, unsigned line, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* All lines joined with SEP between them ("; " for one line, "\n" for a list; caller frees), or NULL when empty. */
char *diag_join(const struct diag *d, const char *sep);
void diag_clear(struct diag *d);
