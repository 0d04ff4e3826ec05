/* Parsers for /proc/PID/cgroup, /proc/PID/maps and /proc/PID/status: the identity of a process that holds a
 * device. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "procinfo.h"
#include "util.h"

void proc_cgroup_clear(struct proc_cgroup *c)
{
	free(c->unit);
	free(c->user_unit);
	free(c->session);
	*c = (struct proc_cgroup){ 0 };
}

static bool ends_with_n(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/* The first component of PATH[0..LEN) after *POS that is a unit (not a slice), as systemd's
 * cg_path_get_unit() finds it; *POS moves past it. NULL when none (or -ENOMEM: *oom set). */
static char *next_unit(const char *path, size_t len, size_t *pos, bool *oom)
{
	while (*pos < len) {
		size_t start = *pos, end;
		char *unit;

		while (start < len && path[start] == '/')
			start++;
		end = start;
		while (end < len && path[end] != '/')
			end++;
		*pos = end;
		if (end == start || ends_with_n(path + start, end - start, ".slice"))
			continue;
		if (!ends_with_n(path + start, end - start, ".service") &&
		    !ends_with_n(path + start, end - start, ".scope"))
			return NULL; /* a plain directory before any unit: no unit of systemd's */
		unit = strndup(path + start, end - start);
		if (!unit)
			*oom = true;
		return unit;
	}
	return NULL;
}

/* "session-2.scope" -> "2"; NULL for any other unit. */
static char *session_of(const char *unit, bool *oom)
{
	size_t len = strlen(unit);
	char *id;

	if (!startswith(unit, "session-") || !ends_with_n(unit, len, ".scope") ||
	    len == strlen("session-") + strlen(".scope"))
		return NULL;
	id = strndup(unit + strlen("session-"), len - strlen("session-") - strlen(".scope"));
	if (!id)
		*oom = true;
	return id;
}

static int cgroup_from_path(const char *path, size_t len, struct proc_cgroup *ret)
{
	size_t pos = 0;
	bool oom = false;

	ret->unit = next_unit(path, len, &pos, &oom);
	if (ret->unit && startswith(ret->unit, "user@"))
		ret->user_unit = next_unit(path, len, &pos, &oom);
	if (ret->unit)
		ret->session = session_of(ret->unit, &oom);
	if (oom) {
		proc_cgroup_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

int proc_cgroup_parse(const char *text, struct proc_cgroup *ret)
{
	const char *v2 = NULL, *named = NULL;
	size_t v2_len = 0, named_len = 0;

	*ret = (struct proc_cgroup){ 0 };
	for (const char *line = text; *line;) {
		const char *eol = strchr(line, '\n'), *c1, *c2;
		size_t len = eol ? (size_t)(eol - line) : strlen(line);

		if (len > 0) {
			c1 = memchr(line, ':', len);
			c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
			if (!c1 || !c2 || c1 == line)
				return -EINVAL;
			for (const char *d = line; d < c1; d++)
				if (!isdigit((unsigned char)*d))
					return -EINVAL;
			if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
				v2 = c2 + 1;
				v2_len = len - (size_t)(v2 - line);
			} else if ((size_t)(c2 - c1 - 1) == strlen("name=systemd") &&
				   memcmp(c1 + 1, "name=systemd", strlen("name=systemd")) == 0) {
				named = c2 + 1;
				named_len = len - (size_t)(named - line);
			}
		}
		line = eol ? eol + 1 : line + len;
	}
	/* On a hybrid host the v2 line may be the empty unified hierarchy ("0::/"); the named one knows. */
	if (named && (!v2 || v2_len <= 1))
		return cgroup_from_path(named, named_len, ret);
	if (v2)
		return cgroup_from_path(v2, v2_len, ret);
	return 0;
}

/* Skip one field of hex digits (with an optional inner SEP) and the spaces after it. */
static const char *skip_hex_field(const char *s, char sep, bool need_sep)
{
	const char *start = s;
	bool seen_sep = false;

	for (; *s && *s != ' '; s++) {
		if (sep && *s == sep && !seen_sep && s != start) {
			seen_sep = true;
			continue;
		}
		if (!isxdigit((unsigned char)*s))
			return NULL;
	}
	if (s == start || (need_sep && !seen_sep) || (seen_sep && s[-1] == sep) || *s != ' ')
		return NULL;
	while (*s == ' ')
		s++;
	return s;
}

int proc_maps_parse_line(const char *line, const char **ret_path, size_t *ret_path_len)
{
	const char *s = line, *end;

	*ret_path = NULL;
	*ret_path_len = 0;
	s = skip_hex_field(s, '-', true); /* START-END */
	if (!s)
		return -EINVAL;
	/* PERMS: four of r w x s p - */
	for (int i = 0; i < 4; i++, s++)
		if (!*s || !strchr("rwxsp-", *s))
			return -EINVAL;
	if (*s != ' ')
		return -EINVAL;
	while (*s == ' ')
		s++;
	s = skip_hex_field(s, 0, false); /* OFFSET */
	if (s)
		s = skip_hex_field(s, ':', true); /* MAJOR:MINOR */
	if (!s)
		return -EINVAL;
	/* INODE, decimal; the last field when the mapping is anonymous. */
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s != ' ' && *s != '\n' && *s != '\0')
		return -EINVAL;
	while (*s == ' ')
		s++;
	end = s + strlen(s);
	if (end > s && end[-1] == '\n')
		end--;
	if (memchr(s, '\n', (size_t)(end - s)))
		return -EINVAL;
	if (end > s) {
		*ret_path = s;
		*ret_path_len = (size_t)(end - s);
	}
	return 0;
}

int proc_status_uid(const char *text, uid_t *ret)
{
	const char *line = text;

	while (line && *line) {
		if (startswith(line, "Uid:")) {
			const char *s = line + strlen("Uid:");
			uintmax_t uid = 0;

			while (*s == ' ' || *s == '\t')
				s++;
			if (!isdigit((unsigned char)*s))
				return -EINVAL;
			for (; isdigit((unsigned char)*s); s++) {
				uid = uid * 10 + (uintmax_t)(*s - '0');
				if (uid > UINT32_MAX - 1) /* (uid_t)-1 is "no user", never a process's */
					return -EINVAL;
			}
			if (*s != '\t' && *s != ' ' && *s != '\n' && *s != '\0')
				return -EINVAL;
			*ret = (uid_t)uid;
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}
