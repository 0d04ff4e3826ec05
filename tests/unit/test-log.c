/* Unit tests of hookd/lib/log.c's stderr form (no journal): one line per message, its VM named once, even
 * when the message is a line made for the user that names the VM itself (a check's warning). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "test.h"
#include "util.h"

/* What log_ctx(LOG_WARNING, VM, ...) of MSG writes to stderr, in a static buffer. */
static const char *logged(const char *vm, const char *pci, const char *msg)
{
	static char buf[4096];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	CHECK(f && saved >= 0);
	fflush(stderr);
	CHECK(dup2(fileno(f), STDERR_FILENO) >= 0);
	log_ctx(LOG_WARNING, vm, "prepare", pci, "%s", msg);
	fflush(stderr);
	CHECK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_vm_named_once(void)
{
	CHECK_STR(logged("desk", NULL, "sleep-inhibited sleep: back to none"),
		  "hookd: VM desk: sleep-inhibited sleep: back to none\n");
	CHECK_STR(logged("desk", NULL, "VM desk: 0000:0a:00.0 (gpu) is in use by pid 1"),
		  "hookd: VM desk: 0000:0a:00.0 (gpu) is in use by pid 1\n");
	/* another VM's name, or a name that only starts the same, is not this VM's prefix */
	CHECK_STR(logged("desk", NULL, "VM desk2: x"), "hookd: VM desk: VM desk2: x\n");
	CHECK_STR(logged("desk", "0000:0a:00.0", "unbound"), "hookd: VM desk: 0000:0a:00.0: unbound\n");
	CHECK_STR(logged(NULL, NULL, "VM desk: x"), "hookd: VM desk: x\n");
}

int main(void)
{
	unsetenv("JOURNAL_STREAM");
	log_setup("hookd");
	RUN(test_vm_named_once);
	return 0;
}
