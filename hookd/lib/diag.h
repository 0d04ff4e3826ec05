/* A list of user-facing problems ("file:line: message"), collected so that all of them can be shown at once. */
#pragma once

#include <stddef.h>

struct diag {
	char **lines;
	size_t n;
};

void diag_add(struct diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* All lines joined with "\n" (caller frees), or NULL when empty. */
char *diag_join(const struct diag *d, const char *sep);
void diag_clear(struct diag *d);
