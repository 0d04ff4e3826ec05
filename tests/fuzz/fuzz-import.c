/* libFuzzer target for `hookctl import`'s converter (hookctl/import-convert.c): kvm.conf and modprobe.d text.
 * Besides crashes and sanitizer reports it checks what import's users rely on:
 *   - every message is "LABEL:N: ..." with N a line of the input;
 *   - whatever was converted, with the lost lines as comments as hookctl writes them, is a valid VM file
 *     for the daemon's own parser (an import never writes a file hookd refuses);
 *   - the number of [device.*] sections is the number of devices reported;
 *   - every address spelling the converter accepts comes out canonical and parses again unchanged.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "import-convert.h"
#include "util.h"

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void check_messages(const struct diag *d, unsigned lines)
{
	for (size_t i = 0; i < d->n; i++) {
		char *end;
		unsigned long n;

		REQUIRE(startswith(d->lines[i], "in.conf:"));
		n = strtoul(d->lines[i] + strlen("in.conf:"), &end, 10);
		REQUIRE(n >= 1 && n <= lines && *end == ':');
	}
}

static void check_address(const uint8_t *data, size_t size)
{
	char s[40], out[13], again[13];

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (import_parse_address(s, out) < 0)
		return;
	REQUIRE(pci_address_canonical(out, again) == 0 && streq(out, again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_result res;
	_cleanup_free_ char *text = NULL;
	struct vm_config *c = NULL;
	struct diag diag = { 0 };
	size_t text_len = 0, sections = 0;
	FILE *f;
	int r;

	check_address(data, size);
	if (import_convert("in.conf", (const char *)data, size, &res) < 0)
		return 0; /* -ENOMEM only */
	check_messages(&res.notes, count_lines(data, size));
	check_messages(&res.lost, count_lines(data, size));
	REQUIRE(res.lost.n <= res.notes.n);

	/* As hookctl/import.c assembles the file. */
	f = open_memstream(&text, &text_len);
	REQUIRE(f);
	fprintf(f, "# imported\n");
	for (size_t i = 0; i < res.lost.n; i++)
		fprintf(f, "# %.180s\n", res.lost.lines[i]);
	fputs(res.body, f);
	REQUIRE(fclose(f) == 0);
	for (const char *p = strstr(text, "\n[device."); p; p = strstr(p + 1, "\n[device."))
		sections++;
	REQUIRE(sections == res.n_devices);
	if (res.n_devices > 0) {
		r = vm_config_parse_string("vm", text, "vm.ini", &c, &diag);
		if (r < 0)
			for (size_t i = 0; i < diag.n; i++)
				fprintf(stderr, "%s\n", diag.lines[i]);
		REQUIRE(r == 0);
		REQUIRE(c->n_devices == res.n_devices);
		vm_config_free(c);
	}
	diag_clear(&diag);
	import_result_done(&res);
	return 0;
}
