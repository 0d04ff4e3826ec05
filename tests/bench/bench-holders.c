/* Benchmark of the check phase's holder scan, printed as a ratio against a baseline measured in the same run:
 *   check: plan_check_devices on a 3-device plan (the GPU, its audio function, an NVMe) over a fixture /proc
 *          of BENCH_PROCESSES processes (fd/ and maps each, holders on two of the devices) vs ONE holder scan
 *          of the same tree (holders_scan of the GPU);   goal ~1.0x (one pass over /proc, not one per device).
 *   The old way (one holders_scan per device) is printed against the same baseline for comparison.
 * Fixture trees only (sysfs-fixture.h under /tmp), never /sys or /proc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "clock.h"
#include "diag.h"
#include "engine-fixture.h"
#include "holders.h"
#include "plan.h"
#include "proc-fixture.h"

#define BENCH_PROCESSES 1000
#define BENCH_ROUNDS 7

static struct fixture f;
static struct topology t;

static void make_processes(void)
{
	fx_class_node(&f, GPU, "drm/card0", "drm", 226, 0, "dri/card0");
	fx_class_node(&f, GPU, "drm/renderD128", "drm", 226, 128, "dri/renderD128");
	fx_class_node(&f, GPU_AUDIO, "sound/card1/pcmC1D3p", "sound", 116, 11, "snd/pcmC1D3p");
	for (int pid = 100; pid < 100 + BENCH_PROCESSES; pid++) {
		fx_process(&f, pid, "worker", 1000, "/user.slice/user-1000.slice/session-2.scope");
		fx_process_fd(&f, pid, 0, "/dev/null");
		fx_process_fd(&f, pid, 1, "/dev/pts/0");
		fx_process_fd(&f, pid, 2, "socket:[1234]");
		fx_process_fd(&f, pid, 3, "/var/log/worker.log");
		for (int i = 0; i < 16; i++) {
			char lib[64];

			snprintf(lib, sizeof(lib), "/usr/lib/x86_64-linux-gnu/libworker%d.so", i);
			fx_process_map(&f, pid, lib);
		}
	}
	/* Holders on two of the three devices: the check's cost is the same as without, its answer not. */
	fx_process_fd(&f, 150, 11, "/dev/dri/card0");
	fx_process_fd(&f, 900, 4, "/dev/nvme0n1");
}

static struct plan *make_plan(void)
{
	const char *addresses[] = { GPU, GPU_AUDIO, NVME_A };
	const char *names[] = { "gpu", "audio", "disk" };
	const int groups[] = { 28, 28, 14 };
	struct plan *p = plan_new("bench");

	CHECK(p);
	p->devices = calloc(3, sizeof(*p->devices));
	CHECK(p->devices);
	for (size_t i = 0; i < 3; i++) {
		p->devices[i] = (struct plan_device){ .name = strdup(names[i]), .iommu_group = groups[i] };
		memcpy(p->devices[i].address, addresses[i], 13);
	}
	p->n_devices = 3;
	return p;
}

static double one_scan_ms(const struct plan *p)
{
	struct holders h = { 0 };
	uint64_t start = monotonic_usec();

	CHECK_INT(holders_scan(&(struct holder_scan_ctx){ .topo = &t }, &p->devices[0], &h), 0);
	CHECK(h.n == 1);
	holders_clear(&h);
	return (double)(monotonic_usec() - start) / 1000.0;
}

static double per_device_scans_ms(const struct plan *p)
{
	uint64_t start = monotonic_usec();

	for (size_t i = 0; i < p->n_devices; i++) {
		struct holders h = { 0 };

		CHECK_INT(holders_scan(&(struct holder_scan_ctx){ .topo = &t }, &p->devices[i], &h), 0);
		holders_clear(&h);
	}
	return (double)(monotonic_usec() - start) / 1000.0;
}

static double check_ms(const struct plan *p)
{
	struct diag problems = { 0 }, warnings = { 0 }, holders = { 0 };
	uint64_t start = monotonic_usec();

	CHECK(plan_check_devices(&t, p, &problems, &warnings, &holders) == ENGINE_REFUSED);
	CHECK(holders.n == 2); /* the GPU's holder and the NVMe's */
	diag_clear(&problems);
	diag_clear(&warnings);
	diag_clear(&holders);
	return (double)(monotonic_usec() - start) / 1000.0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), by_value);
	return v[n / 2];
}

int main(void)
{
	double scan[BENCH_ROUNDS], check[BENCH_ROUNDS], per_device[BENCH_ROUNDS];
	struct plan *p;
	double s, c, d;

	fx_machine(&f);
	t = (struct topology){ .sysfs_root = f.sys, .proc_root = f.proc };
	make_processes();
	p = make_plan();
	one_scan_ms(p);				 /* warm the page cache for all three */
	for (int i = 0; i < BENCH_ROUNDS; i++) { /* interleaved: a busy machine slows all three alike */
		scan[i] = one_scan_ms(p);
		check[i] = check_ms(p);
		per_device[i] = per_device_scans_ms(p);
	}
	s = median(scan, BENCH_ROUNDS);
	c = median(check, BENCH_ROUNDS);
	d = median(per_device, BENCH_ROUNDS);
	printf("holders: %d processes, 3-device plan, median of %d rounds\n", BENCH_PROCESSES, BENCH_ROUNDS);
	printf("  one holder scan (baseline)      %8.2f ms\n", s);
	printf("  check phase (plan_check_devices) %7.2f ms  %.2fx  (goal ~1.0x)\n", c, c / s);
	printf("  one scan per device (the old way) %6.2f ms  %.2fx\n", d, d / s);
	plan_free(p);
	fx_clear(&f);
	return 0;
}
