/* libFuzzer target for the INI editor behind `hookctl set` and `unset` (hookctl/ini-editor.c). The input is
 * an INI text; the first line of it, when it looks like "#! SECTION NAME VALUE", chooses the edit (else a
 * fixed one). Besides crashes and sanitizer reports it checks what set/unset promise:
 *   - parse then join gives the text back line for line (a missing final newline aside);
 *   - after set of a value ini_value_check() accepts, get returns exactly that value;
 *   - after unset, get finds nothing; after removing a section, no assignment in it is found.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ini-editor.h"
#include "util.h"

/* The edit from the first line, "#! KEY VALUE" (KEY as hookctl set takes it, e.g. device.gpu.address); else
 * device.gpu.address = 0a:00.0. *key and *value point into line, which is modified. */
static void edit_of(char *line, const char **key, const char **value)
{
	char *nl = strchr(line, '\n'), *space;

	*key = "device.gpu.address", *value = "0a:00.0";
	if (!startswith(line, "#! ") || !nl)
		return;
	*nl = '\0';
	space = strchr(line + 3, ' ');
	if (!space)
		return;
	*space = '\0';
	*key = line + 3;
	*value = space + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = NULL, *edit = NULL, *joined = NULL, *got = NULL, *section = NULL, *name = NULL;
	const char *key, *value, *why;
	struct ini_text t = { 0 };
	int r;

	/* hookctl reads VM files as C strings: the text ends at a NUL. */
	text = strndup((const char *)data, size);
	edit = strndup((const char *)data, size);
	if (!text || !edit)
		return 0;
	edit_of(edit, &key, &value);
	/* As hookctl set/unset: a key they refuse never reaches the editor. */
	if (ini_text_split_key(key, &section, &name, &why) < 0 &&
	    ini_text_split_key("device.gpu.address", &section, &name, &why) < 0)
		return 0;

	if (ini_text_parse(text, &t) < 0)
		return 0;
	joined = ini_text_join(&t);
	REQUIRE(joined);
	{
		size_t len = strlen(text);

		/* Join ends every line with '\n'; the input may lack the last one. */
		REQUIRE(streq(joined, text) || (len > 0 && text[len - 1] != '\n' && strlen(joined) == len + 1 &&
						strncmp(joined, text, len) == 0));
	}

	if (ini_text_check_value(value, &why) == 0) {
		r = ini_text_set(&t, section, name, value);
		if (r == 0) {
			REQUIRE(ini_text_get(&t, section, name, &got) == 0);
			if (!streq(got, value))
				fprintf(stderr, "[%s] %s: set '%s', got '%s'\n", section, name, value, got);
			REQUIRE(streq(got, value));
			free(got);
			got = NULL;
		}
	}
	r = ini_text_unset(&t, section, name);
	REQUIRE(r == 0 || r == -ENOENT || r == -ENOMEM);
	if (r == 0)
		REQUIRE(ini_text_get(&t, section, name, &got) == -ENOENT);
	r = ini_text_remove_section(&t, section);
	REQUIRE(r == 0 || r == -ENOENT || r == -ENOMEM);
	ini_text_clear(&t);
	return 0;
}
