/* libFuzzer harness for the journal reader (journal_parse): one input is read as a journal's text. Besides
 * crashes and sanitizer reports it checks what release and status rely on:
 *   - a parse either succeeds or fails with -EINVAL (never another error, never half a plan);
 *   - an accepted journal holds only canonical PCI addresses, a valid VM name, no device twice, host changes
 *     of known kinds with targets that cannot climb out of a path, no (kind, target) twice;
 *   - an accepted journal, written back as the engine writes it, reads back to the same plan.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it (a regression test in every build). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "journal.h"
#include "plan.h"
#include "util.h"
#include "vmname.h"

/* Whether PATH has a ".." component or is absolute: a target that would leave the tree it names. */
static bool climbs(const char *path)
{
	size_t n = strlen(path);

	return path[0] == '/' || streq(path, "..") || startswith(path, "../") || strstr(path, "/../") ||
	       (n >= 3 && streq(path + n - 3, "/.."));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan *p = NULL, *again = NULL;
	json_object *o, *o2;
	const char *why, *text;
	int r;

	r = journal_parse((const char *)data, size, NULL, &p);
	REQUIRE(r == 0 || r == -EINVAL);
	if (r < 0) {
		REQUIRE(p == NULL);
		return 0;
	}
	REQUIRE(vm_name_validate(p->vm, &why) == 0);
	for (size_t i = 0; i < p->n_devices; i++) {
		char canon[13];

		REQUIRE(pci_address_canonical(p->devices[i].address, canon) == 0 &&
			streq(canon, p->devices[i].address));
		for (size_t j = 0; j < i; j++)
			REQUIRE(!streq(p->devices[i].address, p->devices[j].address));
		REQUIRE(p->devices[i].name && !strchr(p->devices[i].name, '/'));
		REQUIRE(!p->devices[i].original_driver || !strchr(p->devices[i].original_driver, '/'));
	}
	REQUIRE(p->n_host_changes <= HOST_CHANGES_MAX);
	for (size_t i = 0; i < p->n_host_changes; i++) {
		const struct plan_host_change *c = &p->host_changes[i];

		REQUIRE(host_change_kind_to_string(c->kind) && host_change_step_to_string(c->step));
		REQUIRE(host_change_target_valid(c->kind, c->target) && !climbs(c->target));
		REQUIRE(c->wanted && !strchr(c->wanted, '\n'));
		for (size_t j = 0; j < i; j++)
			REQUIRE(p->host_changes[j].kind != c->kind || !streq(p->host_changes[j].target, c->target));
	}
	o = plan_to_json(p);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	REQUIRE(journal_parse(text, strlen(text), p->vm, &again) == 0);
	o2 = plan_to_json(again);
	REQUIRE(streq(json_object_to_json_string(o), json_object_to_json_string(o2)));
	json_object_put(o);
	json_object_put(o2);
	plan_free(again);
	plan_free(p);
	return 0;
}
