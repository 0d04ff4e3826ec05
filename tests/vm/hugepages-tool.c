/* The hugepage benchmark's helper, INSIDE the testbed guest only (it refuses to run anywhere else: it writes
 * the running kernel's hugepage pools and fills memory):
 *   hugepages-tool fragment MIB        take MIB of memory in 4 KiB pages, give back every other page, print
 *                                      "ready" and hold the rest until killed: free memory in pieces
 *                                      smaller than a huge page, which only compaction joins again
 *   hugepages-tool reserve TARGET N    hookd's reservation (host-hugepages-write.c, the code prepare runs) of
 *                                      N pages on TARGET ("node0/hugepages-2048kB") under /sys; prints
 *                                      "OBTAINED MICROSECONDS COMPACTIONS WRITES"; the pages stay (or, when short,
 *                                      are given back by the reservation itself)
 *   hugepages-tool give-back TARGET N  hookd's release of N pages of TARGET */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "host-hugepages.h"
#include "kernel.h"
#include "log.h"
#include "util.h"

static int usage(void)
{
	fprintf(stderr, "usage: hugepages-tool fragment MIB | reserve TARGET N | give-back TARGET N\n");
	return 2;
}

/* The testbed's kernel command line names its runner; nothing else's does. */
static bool in_testbed_guest(void)
{
	_cleanup_free_ char *cmdline = NULL;

	return read_full_file("/proc/cmdline", 64 * 1024, &cmdline, NULL) == 0 && strstr(cmdline, "testbed.runner=");
}

static int fragment(unsigned long mib)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = mib * 1024 * 1024;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	/* 4 KiB pages, not transparent huge ones: what a long-running desktop's memory looks like. */
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += page)
		p[off] = 1;
	for (size_t off = 0; off < len; off += 2 * page)
		madvise(p + off, page, MADV_DONTNEED);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome = { 0 };
	struct kernel k;
	uint64_t n, added;
	unsigned long long t0;
	int r;

	log_setup("hugepages-tool");
	if (!in_testbed_guest()) {
		fprintf(stderr,
			"hugepages-tool: only in the testbed's guest (it changes the running kernel's memory)\n");
		return 1;
	}
	if (argc == 3 && streq(argv[1], "fragment"))
		return fragment(strtoul(argv[2], NULL, 10));
	if (argc != 4 || hugepages_count_parse(argv[3], &n) < 0)
		return usage();
	r = kernel_running_new("/sys", "/proc", false, &k);
	if (r < 0)
		return 1;
	struct hugepages_io io = {
		.kernel = &k,
		.sysfs_root = "/sys",
		.proc_root = "/proc",
		.compact_all = hugepages_compact_all,
		/* Prepare's bounds with hookd's defaults: 10 s per write (sysfs-timeout), half of the 60 s
		 * operation for the reservation. Chunks keep each write well inside the first. */
		.write_timeout_ms = 10000,
		.deadline_ms = monotonic_ms() + 30000,
		.give_back_wait_ms = 1000,
	};
	t0 = monotonic_usec();
	if (streq(argv[1], "reserve")) {
		r = hugepages_reserve(&io, argv[2], n, &added, &outcome, &why);
		printf("%" PRIu64 " %llu %u %u\n", outcome.obtained, monotonic_usec() - t0, outcome.compactions,
		       outcome.writes);
	} else if (streq(argv[1], "give-back"))
		r = hugepages_give_back(&io, argv[2], n, &why);
	else
		r = -EINVAL;
	if (why)
		fprintf(stderr, "hugepages-tool: %s\n", why);
	kernel_running_free(&k);
	return r < 0 && r != -ENOMEM ? 1 : 0;
}
