/* libFuzzer target for the /proc/PID/maps line reader (hookd/lib/procinfo.c), which finds the device nodes
 * and sysfs resource files a process has mapped. The input is split into lines as getline() would. Besides
 * crashes and sanitizer reports it checks: a path lies inside its line, is not empty and holds no newline;
 * a rejected line gives no path. Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "procinfo.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = strndup((const char *)data, size);
	char *save = NULL;

	if (!text)
		return 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *path = NULL;
		size_t len = 0, line_len = strlen(line);

		if (proc_maps_parse_line(line, &path, &len) < 0) {
			REQUIRE(!path && len == 0);
			continue;
		}
		if (!path) {
			REQUIRE(len == 0);
			continue;
		}
		REQUIRE(path > line && path + len <= line + line_len && len > 0);
		REQUIRE(!memchr(path, '\n', len) && path[0] != ' ');
	}
	return 0;
}
