/* libFuzzer target for the /proc/PID/status reader (hookd/lib/procinfo.c), which gives the user of a process
 * holding a device. Besides crashes and sanitizer reports it checks: an accepted uid is never (uid_t)-1 and
 * reads back from the text's first "Uid:" line as a decimal number. Without -DFUZZING, tests/fuzz/replay.c
 * runs the corpus through it. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "procinfo.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = strndup((const char *)data, size);
	const char *line;
	uid_t uid;
	uintmax_t again;

	if (!text || proc_status_uid(text, &uid) < 0)
		return 0;
	REQUIRE(uid != (uid_t)-1);
	line = startswith(text, "Uid:") ? text : strstr(text, "\nUid:");
	REQUIRE(line);
	line += *line == '\n' ? 5 : 4;
	REQUIRE(sscanf(line, "%" SCNuMAX, &again) == 1 && again == (uintmax_t)uid);
	return 0;
}
