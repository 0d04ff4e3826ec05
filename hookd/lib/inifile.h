/* Private to config.c: inih driven line by line, so that every event carries its line number and every problem
 * (not only inih's first) is reported as "label:line: message".
 *
 * Debian 12's libinih (r55) is built without INI_HANDLER_LINENO and without INI_CALL_HANDLER_ON_NEW_SECTION, so
 * its handler knows neither the line nor when a section starts. We feed inih through our own reader, which sees
 * each raw line just before inih parses it. The syntax itself stays inih's: we only watch which lines inih
 * accepted. Behaviour of that build that users meet (pinned by tests/unit/test-config.c):
 *   - "key = value" (also "key: value"); whitespace around both is stripped.
 *   - ';' and '#' start a comment at the start of a line; after a value only ';' preceded by whitespace does
 *     ("a ; note" -> "a", "a;b" stays "a;b", "a # note" stays "a # note").
 *   - an indented line after a key continues that key (Python configparser style); inih r55 does not strip
 *     comments from such lines, this module does, so "  nvidia ; note" reads as "nvidia" with every inih.
 *   - a line longer than INI_MAX_LINE - 3 (197) characters would be split by inih; we refuse it instead. */
#pragma once

#include <stddef.h>

#include "diag.h"

enum ini_event {
	INI_EVENT_SECTION,	/* "[name]": key and value are NULL */
	INI_EVENT_KEY,		/* "key = value" */
	INI_EVENT_CONTINUATION, /* an indented line: value continues key, the last key seen */
	INI_EVENT_BAD_SECTION,	/* a header without ']' (already reported): inih keeps the previous section for
				  * the keys that follow, the callee should rather ignore them */
};

/* section is NULL before the first section header. Returns 0, or -ENOMEM to stop collecting. Problems with the
 * meaning of a line go to the diag by the callee. */
typedef int (*ini_event_fn)(void *user, enum ini_event event, const char *section, const char *key, const char *value,
			    unsigned line);

/* Walk TEXT; syntax problems are added to DIAG as "label:line: ...". Returns 0 (even with syntax problems: the
 * number of problems added is in *n_problems) or -ENOMEM. */
int ini_walk_string(const char *text, const char *label, ini_event_fn fn, void *user, struct diag *diag,
		    unsigned *n_problems);

/* A configuration file found under ROOT (CONF_DIR), read as read_text_file() (fileio.h) does once trust_open() accepted
 * it: never through a symbolic link, and only when it and its directories up to ROOT are root's alone.
 * Every failure but a missing file (-ENOENT, no message) becomes one message naming the file. An untrusted file
 * or a link returns -EPERM; content problems (too large, NUL, not a regular file) -EINVAL; I/O errors their
 * -errno. */
int read_config_file(const char *root, const char *path, size_t max, char **ret, struct diag *diag);
