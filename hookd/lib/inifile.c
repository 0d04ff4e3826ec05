#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "fileio.h"
#include "inifile.h"
#include "trust.h"
#include "util.h"

/* What our reader expects inih to do with the line it just handed over. */
enum line_kind {
	LINE_IGNORED,	   /* blank, comment, or already reported */
	LINE_SECTION,	   /* a valid "[name]" */
	LINE_KEY,	   /* inih should call the handler with a key */
	LINE_CONTINUATION, /* inih should call the handler with the previous key */
};

struct ini_walk {
	const char *next; /* the unread rest of the text */
	const char *label;
	struct diag *diag;
	ini_event_fn fn;
	void *user;
	unsigned line;
	enum line_kind kind;
	bool handled;	     /* inih called the handler for this line */
	bool have_prev_name; /* inih's prev_name is non-empty: an indented line is a continuation */
	char *section;	     /* NULL before the first header */
	unsigned problems;
	int error;
};

static void walk_problem(struct ini_walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void walk_problem(struct ini_walk *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd_at(w->diag, w->label, w->line, fmt, ap);
	va_end(ap);
	if (r < 0) {
		w->error = r;
		return;
	}
	w->problems++;
}

/* inih's rule for where a value (or a section name) ends: at one of CHARS, or at ';' after whitespace. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	for (; *s; s++) {
		if (chars && strchr(chars, *s))
			break;
		if (was_space && *s == ';')
			break;
		was_space = isspace((unsigned char)*s);
	}
	return s;
}

/* Called before the next line is read: a line inih should have handed to the handler but did not is a syntax
 * error (inih itself would only tell us about the first one). */
static void finish_line(struct ini_walk *w)
{
	if ((w->kind == LINE_KEY || w->kind == LINE_CONTINUATION) && !w->handled)
		walk_problem(w, "expected 'key = value', '[section]' or a comment");
	w->kind = LINE_IGNORED;
}

static void begin_section(struct ini_walk *w, const char *name, size_t len)
{
	char *copy = strndup(name, len);

	if (!copy) {
		w->error = -ENOMEM;
		return;
	}
	free(w->section);
	w->section = copy;
	w->have_prev_name = false;
	w->kind = LINE_SECTION;
	if (w->fn(w->user, INI_EVENT_SECTION, w->section, NULL, NULL, w->line) < 0)
		w->error = -ENOMEM;
}

/* Mirror the order of inih r55's checks so that we know what it will do with this line. */
static void classify_line(struct ini_walk *w, const char *buf)
{
	const char *start = buf;

	if (w->line == 1 && startswith(start, "\xEF\xBB\xBF"))
		start += 3;
	while (isspace((unsigned char)*start))
		start++;

	if (*start == '\0' || *start == ';' || *start == '#') {
		w->kind = LINE_IGNORED;
	} else if (w->have_prev_name && start > buf) {
		w->kind = LINE_CONTINUATION;
	} else if (*start == '[') {
		const char *end = find_chars_or_comment(start + 1, "]");

		if (*end == ']') {
			begin_section(w, start + 1, (size_t)(end - start - 1));
		} else {
			w->kind = LINE_IGNORED;
			walk_problem(w, "section header without a closing ']'");
			if (w->fn(w->user, INI_EVENT_BAD_SECTION, w->section, NULL, NULL, w->line) < 0)
				w->error = -ENOMEM;
		}
	} else {
		w->kind = LINE_KEY;
	}
}

/* inih's ini_reader: hands over exactly one line per call, so inih's line count and ours agree. */
static char *walk_reader(char *buf, int size, void *stream)
{
	struct ini_walk *w = stream;
	const char *eol;
	size_t len;

	finish_line(w);
	if (w->error < 0 || !*w->next || size < 4)
		return NULL;

	eol = strchrnul(w->next, '\n');
	len = (size_t)(eol - w->next);
	w->line++;
	w->handled = false;
	/* inih needs room for "\r\n\0"; a longer line would be split and its tail read as a line of its own. */
	if (len > (size_t)size - 3) {
		walk_problem(w, "line is longer than %d characters", size - 3);
		w->kind = LINE_IGNORED;
		strcpy(buf, "\n");
	} else {
		memcpy(buf, w->next, len);
		buf[len] = '\n';
		buf[len + 1] = '\0';
		classify_line(w, buf);
	}
	w->next = *eol ? eol + 1 : eol;
	return buf;
}

/* inih truncates long section names; ours is the full name, so inih's must be a prefix of it. */
static bool section_agrees(const char *ours, const char *inih_section)
{
	if (!ours || inih_section[0] == '\0')
		return (!ours || ours[0] == '\0') && inih_section[0] == '\0';
	return startswith(ours, inih_section);
}

static int walk_handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_walk *w = user;
	_cleanup_free_ char *cont = NULL;
	int r;

	if (w->error < 0)
		return 1;
	if (w->handled || (w->kind != LINE_KEY && w->kind != LINE_CONTINUATION) ||
	    !section_agrees(w->section, section)) {
		walk_problem(w, "internal error: inih and hookd disagree about this line");
		w->handled = true;
		return 1;
	}
	w->handled = true;

	if (w->kind == LINE_CONTINUATION) {
		/* inih r55 leaves inline comments on continuation lines; later releases strip them. Strip them here
		 * so that both read the same. */
		size_t len = (size_t)(find_chars_or_comment(value, NULL) - value);

		while (len > 0 && isspace((unsigned char)value[len - 1]))
			len--;
		cont = strndup(value, len);
		if (!cont) {
			w->error = -ENOMEM;
			return 1;
		}
		r = w->fn(w->user, INI_EVENT_CONTINUATION, w->section, name, cont, w->line);
	} else {
		w->have_prev_name = name[0] != '\0';
		r = w->fn(w->user, INI_EVENT_KEY, w->section, name, value, w->line);
	}
	if (r < 0)
		w->error = r;
	return 1;
}

int ini_walk_string(const char *text, const char *label, ini_event_fn fn, void *user, struct diag *diag,
		    unsigned *n_problems)
{
	struct ini_walk w = {
		.next = text,
		.label = label,
		.diag = diag,
		.fn = fn,
		.user = user,
	};
	int r;

	r = ini_parse_stream(walk_reader, &w, walk_handler, &w);
	finish_line(&w);
	if (w.error == 0 && r == -2)
		w.error = -ENOMEM;
	else if (w.error == 0 && *w.next)
		/* An inih built to stop at the first error: say so instead of silently ignoring the rest. */
		walk_problem(&w, "parsing stopped here");
	else if (w.error == 0 && r > 0 && w.problems == 0)
		walk_problem(&w, "inih reported an error on line %d", r);
	free(w.section);
	if (n_problems)
		*n_problems = w.problems;
	return w.error;
}

int read_config_file(const char *root, const char *path, size_t max, char **ret, struct diag *diag)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	r = trust_open(root, path, O_NONBLOCK, &fd, &why);
	if (r == -ENOENT)
		return r;
	if (r == -EPERM || r == -ELOOP) {
		diag_add(diag, "%s", why);
		return -EPERM;
	}
	if (r < 0) {
		diag_add(diag, "%s", why ? why : strerror(-r));
		return r;
	}
	r = read_text_fd(fd, max, ret);
	switch (r) {
	case 0:
		return r;
	case -EFBIG:
		diag_add(diag, "%s: larger than %zu bytes: refused", path, max);
		return -EINVAL;
	case -EBADMSG:
		diag_add(diag, "%s: contains a NUL byte: not a text file", path);
		return -EINVAL;
	case -EISDIR:
	case -EINVAL:
		diag_add(diag, "%s: not a regular file", path);
		return -EINVAL;
	default:
		diag_add(diag, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
}
