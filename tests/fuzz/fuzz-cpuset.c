/* libFuzzer target for the CPU set spellings (hookd/lib/cpuset.c): the bytes are read as a CPU list (plain and
 * with libvirt's exclusions), as a hex mask and as systemd's byte array, as they come from sysfs, /proc, a VM
 * file, the domain XML and the bus. Besides crashes and sanitizer reports it checks what the host changes
 * rely on: a refusal is -EINVAL or -ERANGE with a reason and leaves the result untouched; an accepted set
 * formats to a canonical list and a mask that both parse back to the same set, and the canonical list is a
 * fixed point; bytes round-trip too.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "fuzz.h"
#include "util.h"

static void check_round_trips(const struct cpuset *s)
{
	_cleanup_free_ char *list = NULL, *mask = NULL, *list_again = NULL;
	_cleanup_free_ uint8_t *bytes = NULL;
	struct cpuset back;
	size_t len;

	REQUIRE(cpuset_format_list(s, &list) == 0);
	REQUIRE(cpuset_parse_list(list, 0, &back, NULL) == 0 && cpuset_equal(s, &back));
	REQUIRE(cpuset_format_list(&back, &list_again) == 0 && streq(list, list_again));
	REQUIRE(!strchr(list, ' ') && !strchr(list, '\n'));
	REQUIRE(cpuset_format_mask(s, &mask) == 0);
	REQUIRE(cpuset_parse_mask(mask, &back, NULL) == 0 && cpuset_equal(s, &back));
	REQUIRE(cpuset_to_bytes(s, &bytes, &len) == 0);
	REQUIRE(len <= CPUSET_MAX / 8 && (len == 0) == cpuset_is_empty(s));
	REQUIRE(len == 0 || bytes[len - 1] != 0);
	REQUIRE(cpuset_from_bytes(bytes, len, &back) == 0 && cpuset_equal(s, &back));
}

static void check_refusal(int r, const char *why, const struct cpuset *s)
{
	struct cpuset marker;

	cpuset_clear(&marker);
	REQUIRE(cpuset_add(&marker, 4095) == 0);
	REQUIRE(r == -EINVAL || r == -ERANGE);
	REQUIRE(why && *why && !strchr(why, '\n'));
	REQUIRE(cpuset_equal(s, &marker));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = malloc(size + 1);
	const unsigned flags[] = { 0, CPUSET_LIBVIRT };
	struct cpuset s;
	const char *why;
	int r;

	REQUIRE(text);
	memcpy(text, data, size);
	text[size] = '\0';

	for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
		cpuset_clear(&s);
		(void)cpuset_add(&s, 4095);
		why = NULL;
		r = cpuset_parse_list(text, flags[i], &s, &why);
		if (r == 0)
			check_round_trips(&s);
		else
			check_refusal(r, why, &s);
	}

	cpuset_clear(&s);
	(void)cpuset_add(&s, 4095);
	why = NULL;
	r = cpuset_parse_mask(text, &s, &why);
	if (r == 0)
		check_round_trips(&s);
	else
		check_refusal(r, why, &s);

	r = cpuset_from_bytes(data, size, &s);
	REQUIRE(r == 0 || r == -ERANGE);
	if (r == 0)
		check_round_trips(&s);
	return 0;
}
