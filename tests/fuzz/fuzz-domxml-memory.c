/* libFuzzer target for the domain XML's memory reader (hookd/lib/domxml-memory.c) and the hugepage sizing
 * over what it read (hookd/engine/host-hugepages-size.c). Besides crashes and sanitizer reports it checks
 * what prepare relies on: a failure is -EINVAL with one line of text (or -ENOMEM); a success has no zero page
 * size, no cell twice, and memnodes and pages only for cells that exist; the sizing of a success on a
 * two-node host is either one line of refusal or needs sorted by (node, size), each offered by the host and
 * none of zero pages. Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "domxml-memory.h"
#include "host-hugepages-size.h"

static bool one_line(const char *s)
{
	return s && *s && !strchr(s, '\n');
}

static void check_sizing(const struct domxml_memory *m, enum hugepages_mode mode)
{
	struct hugepages_offer offers[] = {
		{ .node = 0, .size_kib = 2048 },
		{ .node = 0, .size_kib = 1048576 },
		{ .node = 1, .size_kib = 2048 },
	};
	struct hugepages_host host = { .offers = offers, .n_offers = 3, .default_size_kib = 2048 };
	struct hugepages_request req = { .mode = mode, .count = 1000 };
	struct hugepages_need *needs = NULL;
	char *why = NULL;
	size_t n = 0;
	int r;

	r = hugepages_size(&req, m, &host, &needs, &n, &why);
	REQUIRE(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		REQUIRE(one_line(why) && !needs && n == 0);
	for (size_t i = 0; r == 0 && i < n; i++) {
		bool found = false;

		REQUIRE(needs[i].pages > 0);
		for (size_t j = 0; j < host.n_offers; j++)
			found = found || (offers[j].node == needs[i].node && offers[j].size_kib == needs[i].size_kib);
		REQUIRE(found);
		REQUIRE(i == 0 || needs[i - 1].node < needs[i].node ||
			(needs[i - 1].node == needs[i].node && needs[i - 1].size_kib < needs[i].size_kib));
	}
	free(needs);
	free(why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domxml_memory m;
	char *error = NULL;
	int r;

	r = domxml_memory((const char *)data, size, &m, &error);
	if (r == 0) {
		REQUIRE(!error);
		for (size_t i = 0; i < m.n_pages; i++)
			REQUIRE(m.pages[i].size_kib > 0);
		for (size_t i = 0; i < m.n_cells; i++)
			for (size_t j = 0; j < i; j++)
				REQUIRE(m.cells[i].id != m.cells[j].id);
		for (size_t i = 0; i < m.n_memnodes; i++) {
			bool found = false;

			for (size_t j = 0; j < m.n_cells; j++)
				found = found || m.cells[j].id == m.memnodes[i].cell;
			REQUIRE(found);
		}
		check_sizing(&m, HUGEPAGES_AUTO);
		check_sizing(&m, HUGEPAGES_COUNT);
	} else {
		REQUIRE(r == -EINVAL || r == -ENOMEM);
		REQUIRE(r == -ENOMEM || one_line(error));
	}
	free(error);
	domxml_memory_clear(&m);
	return 0;
}
