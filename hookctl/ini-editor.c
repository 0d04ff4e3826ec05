#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini-editor.h"
#include "util.h"

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_SECTION, LINE_KEY, LINE_CONTINUATION, LINE_OTHER };

/* What one line is, read the way inih reads it. */
struct line_info {
	enum line_kind kind;
	size_t section;		       /* index of the section header line this line is under, or SIZE_MAX */
	size_t name_start, name_len;   /* LINE_KEY: the key; LINE_SECTION: the section name */
	size_t value_start, value_len; /* LINE_KEY / LINE_CONTINUATION: the value, trimmed */
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static size_t skip_space(const char *s, size_t i)
{
	while (s[i] && is_space(s[i]))
		i++;
	return i;
}

/* End of the value: before an inline comment (';' after whitespace), trailing spaces trimmed. */
static size_t value_end(const char *s, size_t start)
{
	size_t end = start;

	for (size_t i = start; s[i]; i++) {
		if (s[i] == ';' && i > 0 && is_space(s[i - 1])) /* as inih: the space may precede the value */
			break;
		end = i + 1;
	}
	while (end > start && is_space(s[end - 1]))
		end--;
	return end;
}

static void classify(const struct ini_text *t, struct line_info *info)
{
	size_t section = SIZE_MAX;
	bool after_key = false;

	for (size_t i = 0; i < t->n; i++) {
		const char *s = t->lines[i];
		size_t p = skip_space(s, 0);
		struct line_info *li = &info[i];

		*li = (struct line_info){ .section = section };
		if (!s[p]) {
			li->kind = LINE_BLANK;
		} else if (s[p] == ';' || s[p] == '#') {
			li->kind = LINE_COMMENT;
		} else if (after_key && p > 0) {
			li->kind = LINE_CONTINUATION;
			li->value_start = p;
			li->value_len = value_end(s, p) - p;
		} else if (s[p] == '[') {
			const char *close = strchr(s + p, ']');

			if (!close) {
				li->kind = LINE_OTHER;
				after_key = false;
				continue;
			}
			li->kind = LINE_SECTION;
			li->name_start = skip_space(s, p + 1);
			li->name_len = (size_t)(close - s) - li->name_start;
			while (li->name_len > 0 && is_space(s[li->name_start + li->name_len - 1]))
				li->name_len--;
			section = i;
			li->section = i;
			after_key = false;
		} else {
			size_t sep = p + strcspn(s + p, "=:");
			size_t end = sep;

			if (!s[sep]) {
				li->kind = LINE_OTHER;
				after_key = false;
				continue;
			}
			while (end > p && is_space(s[end - 1]))
				end--;
			li->kind = LINE_KEY;
			li->name_start = p;
			li->name_len = end - p;
			li->value_start = skip_space(s, sep + 1);
			li->value_len = value_end(s, li->value_start) - li->value_start;
			after_key = true;
		}
	}
}

static bool span_eq(const char *s, size_t start, size_t len, const char *want)
{
	return strlen(want) == len && strncmp(s + start, want, len) == 0;
}

static bool in_section(const struct ini_text *t, const struct line_info *info, size_t i, const char *section)
{
	size_t h = info[i].section;

	return h != SIZE_MAX && span_eq(t->lines[h], info[h].name_start, info[h].name_len, section);
}

static bool is_assignment(const struct ini_text *t, const struct line_info *info, size_t i, const char *section,
			  const char *name)
{
	return info[i].kind == LINE_KEY && in_section(t, info, i, section) &&
	       span_eq(t->lines[i], info[i].name_start, info[i].name_len, name);
}

int ini_text_parse(const char *text, struct ini_text *ret)
{
	struct ini_text t = { 0 };
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, "\n");
		char **grown = realloc(t.lines, (t.n + 1) * sizeof(*grown));

		if (!grown) {
			ini_text_clear(&t);
			return -ENOMEM;
		}
		t.lines = grown;
		t.lines[t.n] = strndup(p, len);
		if (!t.lines[t.n]) {
			ini_text_clear(&t);
			return -ENOMEM;
		}
		t.n++;
		p += len;
		if (*p == '\n')
			p++;
	}
	*ret = t;
	return 0;
}

char *ini_text_join(const struct ini_text *t)
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < t->n; i++)
		len += strlen(t->lines[i]) + 1;
	out = p = malloc(len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		p = stpcpy(p, t->lines[i]);
		*p++ = '\n';
	}
	*p = '\0';
	return out;
}

void ini_text_clear(struct ini_text *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->lines[i]);
	free(t->lines);
	*t = (struct ini_text){ 0 };
}

static int check_name(const char *s, size_t len, const char **why)
{
	if (len == 0) {
		*why = "an empty section or key name";
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.') {
			*why = "section and key names are letters, digits, '-', '_' and '.'";
			return -EINVAL;
		}
	}
	return 0;
}

int ini_text_split_key(const char *key, char **ret_section, char **ret_name, const char **why)
{
	const char *dot = strrchr(key, '.');
	char *section, *name;

	if (!dot || dot == key || !dot[1]) {
		*why = "KEY must be SECTION.KEY, e.g. vm.unload-modules or device.gpu.address";
		return -EINVAL;
	}
	if (check_name(key, (size_t)(dot - key), why) < 0 || check_name(dot + 1, strlen(dot + 1), why) < 0)
		return -EINVAL;
	section = strndup(key, (size_t)(dot - key));
	name = strdup(dot + 1);
	if (!section || !name) {
		free(section);
		free(name);
		return -ENOMEM;
	}
	*ret_section = section;
	*ret_name = name;
	return 0;
}

int ini_text_check_value(const char *value, const char **why)
{
	size_t len = strlen(value);

	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			*why = "the value may not contain newlines or control characters";
			return -EINVAL;
		}
	if (len > 0 && (is_space(value[0]) || is_space(value[len - 1]))) {
		*why = "the value may not start or end with spaces (INI drops them)";
		return -EINVAL;
	}
	/* Written after "= ", a leading ';' has a space before it too. */
	for (size_t i = 0; i < len; i++)
		if (value[i] == ';' && (i == 0 || is_space(value[i - 1]))) {
			*why = "the value may not start with ';' or contain ' ;' (INI reads it as a comment)";
			return -EINVAL;
		}
	return 0;
}

static int insert_line(struct ini_text *t, size_t at, char *line /* taken */)
{
	char **grown = realloc(t->lines, (t->n + 1) * sizeof(*grown));

	if (!grown) {
		free(line);
		return -ENOMEM;
	}
	t->lines = grown;
	memmove(t->lines + at + 1, t->lines + at, (t->n - at) * sizeof(*grown));
	t->lines[at] = line;
	t->n++;
	return 0;
}

/* Drop the lines marked in drop[] (t->n entries). */
static void remove_marked(struct ini_text *t, const bool *drop)
{
	size_t out = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (drop[i])
			free(t->lines[i]);
		else
			t->lines[out++] = t->lines[i];
	}
	t->n = out;
}

/* Number of lines the assignment at i spans, continuation lines included. */
static size_t assignment_span(const struct line_info *info, size_t n, size_t i)
{
	size_t end = i + 1;

	while (end < n && (info[end].kind == LINE_CONTINUATION || info[end].kind == LINE_COMMENT ||
			   info[end].kind == LINE_BLANK)) {
		if (info[end].kind == LINE_CONTINUATION) {
			end++;
			continue;
		}
		/* A comment or blank ends the value unless a continuation follows it. */
		size_t k = end;
		while (k < n && (info[k].kind == LINE_COMMENT || info[k].kind == LINE_BLANK))
			k++;
		if (k < n && info[k].kind == LINE_CONTINUATION)
			end = k;
		else
			break;
	}
	return end - i;
}

int ini_text_get(const struct ini_text *t, const char *section, const char *name, char **ret)
{
	_cleanup_free_ struct line_info *info = calloc(t->n + 1, sizeof(*info));
	char *value = NULL;
	bool found = false;

	if (!info)
		return -ENOMEM;
	classify(t, info);
	for (size_t i = 0; i < t->n; i++) {
		if (!is_assignment(t, info, i, section, name))
			continue;
		size_t span = assignment_span(info, t->n, i);
		size_t len = 0;

		free(value);
		for (size_t k = i; k < i + span; k++)
			len += info[k].value_len + 1;
		value = malloc(len + 1);
		if (!value)
			return -ENOMEM;
		char *p = value;
		for (size_t k = i; k < i + span; k++) {
			if (info[k].kind != LINE_KEY && info[k].kind != LINE_CONTINUATION)
				continue;
			if (p != value)
				*p++ = '\n';
			memcpy(p, t->lines[k] + info[k].value_start, info[k].value_len);
			p += info[k].value_len;
		}
		*p = '\0';
		found = true;
	}
	if (!found)
		return -ENOENT;
	*ret = value;
	return 0;
}

/* The line "KEY = VALUE [; comment]", keeping the original's spelling around the value. */
static char *rewrite_assignment(const char *line, const struct line_info *li, const char *value)
{
	const char *rest = line + li->value_start + li->value_len;
	/* An empty value before its comment ("key =  ; c"): the comment starts where the value goes, and
	 * needs a space before it, or INI reads it as part of the new value. */
	const char *sep = rest[0] == ';' ? " " : "";
	char *out;

	if (asprintf(&out, "%.*s%s%s%s", (int)li->value_start, line, value, sep, rest) < 0)
		return NULL;
	return out;
}

/* Mark the continuation lines of the assignment at i (not the comments between them). */
static void mark_continuations(const struct line_info *info, size_t n, size_t i, bool *drop)
{
	size_t span = assignment_span(info, n, i);

	for (size_t k = i + 1; k < i + span; k++)
		if (info[k].kind == LINE_CONTINUATION)
			drop[k] = true;
}

/* A new key line was put before line AT: an indented line that follows (past comments and blanks) would now
 * read as a continuation of its value. Such a line (a section header or key that was merely indented) loses
 * its indentation and keeps its meaning. */
static void keep_meaning_after_key(struct ini_text *t, size_t at)
{
	for (size_t k = at; k < t->n; k++) {
		char *s = t->lines[k];
		size_t p = skip_space(s, 0);

		if (!s[p] || s[p] == ';' || s[p] == '#')
			continue;
		if (p > 0)
			memmove(s, s + p, strlen(s + p) + 1);
		return;
	}
}

int ini_text_set(struct ini_text *t, const char *section, const char *name, const char *value)
{
	_cleanup_free_ struct line_info *info = calloc(t->n + 1, sizeof(*info));
	_cleanup_free_ bool *drop = calloc(t->n + 1, sizeof(bool));
	size_t first = SIZE_MAX, last_header = SIZE_MAX, insert_at = SIZE_MAX;
	char *line;
	int r;

	if (!info || !drop)
		return -ENOMEM;
	classify(t, info);

	for (size_t i = 0; i < t->n; i++) {
		if (!is_assignment(t, info, i, section, name))
			continue;
		if (first == SIZE_MAX)
			first = i;
		else
			drop[i] = true; /* later assignments of the same key go: one value remains */
		mark_continuations(info, t->n, i, drop);
	}
	if (first != SIZE_MAX) {
		line = rewrite_assignment(t->lines[first], &info[first], value);
		if (!line)
			return -ENOMEM;
		free(t->lines[first]);
		t->lines[first] = line;
		remove_marked(t, drop);
		return 0;
	}

	for (size_t i = 0; i < t->n; i++) {
		if (info[i].kind == LINE_SECTION && in_section(t, info, i, section))
			last_header = i;
		if (last_header != SIZE_MAX && info[i].section == last_header &&
		    (info[i].kind == LINE_SECTION || info[i].kind == LINE_KEY || info[i].kind == LINE_CONTINUATION ||
		     info[i].kind == LINE_OTHER))
			insert_at = i + 1;
	}
	if (asprintf(&line, "%s = %s", name, value) < 0)
		return -ENOMEM;
	if (insert_at != SIZE_MAX) {
		r = insert_line(t, insert_at, line);
		if (r >= 0)
			keep_meaning_after_key(t, insert_at + 1);
		return r;
	}

	/* A new section at the end, set off by a blank line. */
	char *header = NULL, *blank = NULL;

	if (t->n > 0 && info[t->n - 1].kind != LINE_BLANK) {
		blank = strdup("");
		if (!blank) {
			free(line);
			return -ENOMEM;
		}
		r = insert_line(t, t->n, blank);
		if (r < 0) {
			free(line);
			return r;
		}
	}
	if (asprintf(&header, "[%s]", section) < 0) {
		free(line);
		return -ENOMEM;
	}
	r = insert_line(t, t->n, header);
	if (r < 0) {
		free(line);
		return r;
	}
	return insert_line(t, t->n, line);
}

int ini_text_unset(struct ini_text *t, const char *section, const char *name)
{
	_cleanup_free_ struct line_info *info = calloc(t->n + 1, sizeof(*info));
	_cleanup_free_ bool *drop = calloc(t->n + 1, sizeof(bool));
	bool found = false;

	if (!info || !drop)
		return -ENOMEM;
	classify(t, info);
	for (size_t i = 0; i < t->n; i++) {
		if (!is_assignment(t, info, i, section, name))
			continue;
		drop[i] = true;
		mark_continuations(info, t->n, i, drop);
		found = true;
	}
	if (!found)
		return -ENOENT;
	remove_marked(t, drop);
	return 0;
}

int ini_text_remove_section(struct ini_text *t, const char *section)
{
	_cleanup_free_ struct line_info *info = calloc(t->n + 1, sizeof(*info));
	_cleanup_free_ bool *drop = calloc(t->n + 1, sizeof(bool));
	bool found = false;

	if (!info || !drop)
		return -ENOMEM;
	classify(t, info);
	for (size_t h = 0; h < t->n; h++) {
		if (info[h].kind != LINE_SECTION || !in_section(t, info, h, section))
			continue;
		size_t start = h, end = h + 1;

		while (end < t->n && info[end].section == h)
			end++;
		/* Comments right above a header belong to that section: those above the next one stay, those
		 * above this one go, with the blank line that set it off. */
		if (end < t->n)
			while (end > h + 1 && (info[end - 1].kind == LINE_COMMENT || info[end - 1].kind == LINE_BLANK))
				end--;
		while (start > 0 && info[start - 1].kind == LINE_COMMENT)
			start--;
		if (start > 0 && info[start - 1].kind == LINE_BLANK)
			start--;
		else if (start == 0)
			while (end < t->n && info[end].kind == LINE_BLANK)
				end++;
		for (size_t k = start; k < end; k++)
			drop[k] = true;
		found = true;
	}
	if (!found)
		return -ENOENT;
	remove_marked(t, drop);
	return 0;
}
