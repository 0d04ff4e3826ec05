/* The /proc/PID/mountinfo line reader: whitespace-separated fields, "-" before the filesystem's own three,
 * octal escapes undone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountinfo.h"
#include "util.h"

/* Longest field kept; the kernel's own limit for a path is PATH_MAX escaped, so four times that. */
#define FIELD_MAX (4u * 4096u)

/* The next space-separated field of *p, unescaped (caller frees). -EINVAL when there is none. */
static int next_field(const char **p, char **ret)
{
	const char *s = *p, *end;
	char *out, *o;

	s += strspn(s, " ");
	end = s + strcspn(s, " \n");
	if (end == s || (size_t)(end - s) > FIELD_MAX)
		return -EINVAL;
	out = malloc((size_t)(end - s) + 1);
	if (!out)
		return -ENOMEM;
	o = out;
	for (const char *c = s; c < end; c++) {
		if (c[0] == '\\' && end - c >= 4 && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' &&
		    c[3] >= '0' && c[3] <= '7') {
			*o++ = (char)((c[1] - '0') * 64 + (c[2] - '0') * 8 + (c[3] - '0'));
			c += 3;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	if (memchr(out, '\0', (size_t)(o - out))) {
		/* \000 would cut the field short for every C reader after us. */
		free(out);
		return -EINVAL;
	}
	*p = end;
	*ret = out;
	return 0;
}

void mountinfo_entry_clear(struct mountinfo_entry *e)
{
	free(e->root);
	free(e->mount_point);
	free(e->fstype);
	free(e->source);
	*e = (struct mountinfo_entry){ 0 };
}

int mountinfo_parse_line(const char *line, struct mountinfo_entry *ret)
{
	struct mountinfo_entry e = { 0 };
	const char *p = line;
	char *field = NULL;
	int n = -1, r;

	*ret = (struct mountinfo_entry){ 0 };
	/* ID PARENT MAJOR:MINOR */
	if (sscanf(p, "%*u %*u %u:%u%n", &e.major, &e.minor, &n) != 2 || n < 0 || (p[n] != ' '))
		return -EINVAL;
	p += n;
	r = next_field(&p, &e.root);
	if (r >= 0)
		r = next_field(&p, &e.mount_point);
	if (r >= 0)
		r = next_field(&p, &field); /* per-mount options */
	/* Optional fields up to the lone "-". */
	while (r >= 0) {
		bool separator = streq(field, "-");

		free(field);
		field = NULL;
		if (separator)
			break;
		r = next_field(&p, &field);
	}
	if (r >= 0)
		r = next_field(&p, &e.fstype);
	if (r >= 0)
		r = next_field(&p, &e.source);
	free(field);
	if (r < 0) {
		mountinfo_entry_clear(&e);
		return r;
	}
	*ret = e;
	return 0;
}
