/* libFuzzer target for the /proc/PID/cgroup reader (hookd/lib/procinfo.c), which names the systemd unit and
 * login session of a process holding a device. Besides crashes and sanitizer reports it checks: a unit
 * ends in .service or .scope and holds no '/'; a user unit only comes with a user@ unit; a session only
 * with its session-N.scope. Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "procinfo.h"
#include "util.h"

static bool is_unit(const char *u)
{
	size_t len = strlen(u);

	return !strchr(u, '/') &&
	       ((len > 8 && streq(u + len - 8, ".service")) || (len > 6 && streq(u + len - 6, ".scope")));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = strndup((const char *)data, size);
	struct proc_cgroup c;

	if (!text)
		return 0;
	if (proc_cgroup_parse(text, &c) < 0) {
		REQUIRE(!c.unit && !c.user_unit && !c.session);
		return 0;
	}
	if (c.unit)
		REQUIRE(is_unit(c.unit));
	if (c.user_unit)
		REQUIRE(c.unit && startswith(c.unit, "user@") && is_unit(c.user_unit));
	if (c.session) {
		char want[4096];

		REQUIRE(c.unit && *c.session);
		snprintf(want, sizeof(want), "session-%s.scope", c.session);
		REQUIRE(streq(want, c.unit));
	}
	proc_cgroup_clear(&c);
	return 0;
}
