/* Drive the device engine directly, without the daemon: the testbed's scenarios and benchmarks use it.
 *   engine-tool [--sysfs-root D] [--proc-root D] [--run-dir D] [--conf-dir D] [--xml FILE]
 *               [--sysfs-timeout MS] [--operation-timeout MS] prepare|release|check|status|recover [VM]
 *   engine-tool [...] cycle VM ROUNDS   prepare + release ROUNDS times in this one process (as the daemon
 *                                       would) and print the median microseconds of one cycle, the first
 *                                       (warm-up) round left out when ROUNDS > 1
 *   engine-tool [...] holders ADDRESS [ROUNDS]   who holds PCI function ADDRESS (holders.h), one line each;
 *                                       with ROUNDS, also scan ROUNDS times and print the device's nodes
 *                                       and "scan-usec MEDIAN" (the first round left out)
 * Each run is a fresh process, like a daemon restart: `recover` is what the daemon does at start-up. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "engine.h"
#include "fileio.h"
#include "holders.h"
#include "log.h"
#include "proto.h"
#include "util.h"

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* prepare + release ROUNDS times; print the median cycle in microseconds. */
static int cycle(struct engine *e, const struct vm_config *vm, const char *xml, unsigned rounds, char **message)
{
	_cleanup_free_ long long *t = calloc(rounds ? rounds : 1, sizeof(long long));
	int r;

	if (!t || rounds == 0)
		return -EINVAL;
	for (unsigned i = 0; i < rounds; i++) {
		long long t0;

		/* Untimed: let the previous round's asynchronous probes (snd_hda_intel probes its codecs on a
		 * work queue) finish, as they would between a VM's stop and its next start. */
		if (i > 0)
			sleep(1);
		t0 = (long long)monotonic_usec();

		r = engine_prepare(e, vm, xml, message);
		if (r == ENGINE_REFUSED)
			return -EPERM;
		if (r >= 0)
			r = engine_release(e, vm->name, message);
		if (r < 0)
			return r;
		t[i] = (long long)monotonic_usec() - t0;
	}
	/* The first round pays one-time set-up (libkmod's indexes): it is left out when there are more. */
	if (rounds > 1) {
		qsort(t + 1, rounds - 1, sizeof(long long), cmp_ll);
		printf("%lld\n", t[1 + (rounds - 1) / 2]);
	} else
		printf("%lld\n", t[0]);
	return 0;
}

/* Who holds ADDRESS; with ROUNDS > 0 the median time of one scan, for the holder benchmark. */
static int holders(const char *sysfs_root, const char *proc_root, const char *address, unsigned rounds)
{
	const struct topology t = { .sysfs_root = sysfs_root, .proc_root = proc_root };
	_cleanup_free_ long long *times = calloc(rounds + 1, sizeof(long long));
	struct pci_function f;
	struct plan_device d = { 0 };
	struct holders h = { 0 };
	struct device_nodes nodes;
	int r;

	if (!times || topology_function(&t, address, &f) < 0)
		return -ENODEV;
	snprintf(d.address, sizeof(d.address), "%s", address);
	d.iommu_group = f.iommu_group;
	pci_function_clear(&f);
	r = holders_scan(&(struct holder_scan_ctx){ .topo = &t }, &d, &h);
	for (size_t i = 0; r >= 0 && i < h.n; i++) {
		_cleanup_free_ char *line = holder_describe(&h.v[i]);

		printf("%s\n", line ? line : "?");
	}
	holders_clear(&h);
	if (r < 0 || rounds == 0)
		return r;
	r = device_nodes_of(&t, address, d.iommu_group, &nodes);
	if (r < 0)
		return r;
	printf("nodes:");
	for (size_t i = 0; i < nodes.n; i++)
		printf(" %s", nodes.v[i].path);
	printf("\n");
	device_nodes_clear(&nodes);
	for (unsigned i = 0; r >= 0 && i < rounds; i++) {
		unsigned long long t0 = monotonic_usec();

		r = holders_scan(&(struct holder_scan_ctx){ .topo = &t }, &d, &h);
		times[i] = (long long)(monotonic_usec() - t0);
		holders_clear(&h);
	}
	if (r < 0)
		return r;
	if (rounds > 1) {
		qsort(times + 1, rounds - 1, sizeof(long long), cmp_ll);
		printf("scan-usec %lld\n", times[1 + (rounds - 1) / 2]);
	} else
		printf("scan-usec %lld\n", times[0]);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: engine-tool [--sysfs-root D] [--proc-root D] [--run-dir D] [--conf-dir D] [--xml FILE]\n"
		"                   [--sysfs-timeout MS] [--operation-timeout MS] prepare|release|check|status|recover "
		"[VM]\n"
		"       engine-tool [...] cycle VM ROUNDS\n"
		"       engine-tool [...] holders ADDRESS [ROUNDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "proc-root", required_argument, NULL, 'p' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "conf-dir", required_argument, NULL, 'c' },
		{ "xml", required_argument, NULL, 'x' },
		{ "sysfs-timeout", required_argument, NULL, 't' },
		{ "operation-timeout", required_argument, NULL, 'o' },
		{},
	};
	struct engine_options opts = { .sysfs_root = "/sys", .run_dir = "/run/hookd", .proc_root = "/proc" };
	const char *conf_dir = "/etc/hookd", *xml_path = NULL, *cmd, *vm_name;
	_cleanup_free_ char *xml = NULL, *message = NULL;
	struct engine *e = NULL;
	json_object *out = NULL;
	int c, r;

	log_setup("engine-tool");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
		switch (c) {
		case 's':
			opts.sysfs_root = optarg;
			break;
		case 'p':
			opts.proc_root = optarg;
			break;
		case 'r':
			opts.run_dir = optarg;
			break;
		case 'c':
			conf_dir = optarg;
			break;
		case 'x':
			xml_path = optarg;
			break;
		case 't':
			opts.sysfs_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			opts.operation_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	cmd = argv[optind];
	vm_name = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!vm_name && !streq(cmd, "status") && !streq(cmd, "recover"))
		return usage();
	if (xml_path) {
		r = streq(xml_path, "-") ? read_full_fd(STDIN_FILENO, HOOKD_XML_MAX, &xml, NULL)
					 : read_full_file(xml_path, HOOKD_XML_MAX, &xml, NULL);
		if (r < 0) {
			fprintf(stderr, "engine-tool: cannot read %s: %s\n", xml_path, strerror(-r));
			return 1;
		}
	}
	if (streq(cmd, "holders")) {
		r = holders(opts.sysfs_root, opts.proc_root, vm_name,
			    optind + 2 < argc ? (unsigned)strtoul(argv[optind + 2], NULL, 10) : 0);
		if (r < 0)
			fprintf(stderr, "engine-tool: holders of %s: %s\n", vm_name, strerror(-r));
		return r < 0 ? 1 : 0;
	}
	opts.change_modules = kernel_sysfs_root_is_live(opts.sysfs_root);
	r = engine_new(&opts, &e);
	if (r < 0) {
		fprintf(stderr, "engine-tool: %s\n", strerror(-r));
		return 1;
	}
	if (streq(cmd, "prepare") || streq(cmd, "check") || streq(cmd, "cycle")) {
		_cleanup_(vm_config_freep) struct vm_config *vm = NULL;
		struct diag diag = { 0 };

		r = vm_config_load(conf_dir, vm_name, &vm, &diag);
		if (r < 0) {
			_cleanup_free_ char *all = diag_join(&diag, "\n");

			fprintf(stderr, "%s\n", all ? all : strerror(-r));
			diag_clear(&diag);
			engine_free(e);
			return 1;
		}
		if (streq(cmd, "prepare")) {
			r = engine_prepare(e, vm, xml, &message);
			if (r == ENGINE_REFUSED)
				r = -EPERM; /* refused: the message says why */
		} else if (streq(cmd, "cycle"))
			r = cycle(e, vm, xml, optind + 2 < argc ? (unsigned)strtoul(argv[optind + 2], NULL, 10) : 0,
				  &message);
		else
			r = engine_check(e, vm, xml, &out);
	} else if (streq(cmd, "release"))
		r = engine_release(e, vm_name, &message);
	else if (streq(cmd, "status"))
		r = engine_status(e, vm_name, &out);
	else if (streq(cmd, "recover"))
		r = engine_recover(e);
	else {
		engine_free(e);
		return usage();
	}
	if (out) {
		printf("%s\n",
		       json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
	}
	if (r < 0)
		fprintf(stderr, "%s\n", message ? message : strerror(-r));
	engine_free(e);
	return r < 0 ? 1 : 0;
}
