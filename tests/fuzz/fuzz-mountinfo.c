/* libFuzzer target for the mountinfo line reader (hookd/lib/mountinfo.c), which decides whether a disk behind
 * a controller is mounted. The input is split into lines as getline() would. Besides crashes and sanitizer
 * reports it checks: an accepted line has every field, none empty; and
 * the entry written back with the kernel's escapes parses again to the same entry.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mountinfo.h"
#include "util.h"

static void escaped(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
			fprintf(f, "\\%03o", (unsigned char)*s);
		else
			fputc(*s, f);
}

static void check_entry(const struct mountinfo_entry *m)
{
	_cleanup_free_ char *line = NULL;
	struct mountinfo_entry again;
	size_t len = 0;
	FILE *f;

	const char *fields[] = { m->root, m->mount_point, m->fstype, m->source };
	for (size_t i = 0; i < 4; i++)
		REQUIRE(fields[i] && *fields[i]);
	f = open_memstream(&line, &len);
	REQUIRE(f);
	fprintf(f, "1 2 %u:%u ", m->major, m->minor);
	escaped(f, m->root);
	fputc(' ', f);
	escaped(f, m->mount_point);
	fputs(" rw - ", f);
	escaped(f, m->fstype);
	fputc(' ', f);
	escaped(f, m->source);
	fputs(" rw\n", f);
	REQUIRE(fclose(f) == 0);
	REQUIRE(mountinfo_parse_line(line, &again) == 0);
	REQUIRE(again.major == m->major && again.minor == m->minor);
	REQUIRE(streq(again.root, m->root) && streq(again.mount_point, m->mount_point));
	REQUIRE(streq(again.fstype, m->fstype) && streq(again.source, m->source));
	mountinfo_entry_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = strndup((const char *)data, size);
	char *save = NULL;

	if (!text)
		return 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo_entry m;

		if (mountinfo_parse_line(line, &m) == 0) {
			check_entry(&m);
			mountinfo_entry_clear(&m);
		}
	}
	return 0;
}
