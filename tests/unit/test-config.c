/* Unit tests of hookd/lib/config.c: the per-VM INI files, hookd.conf, loading a configuration directory, and
 * the behaviour of the packaged inih that users rely on. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"
#include "util.h"

/* ---- helpers ---- */

static struct vm_config *parse_ok_at(const char *file, int line, const char *text)
{
	struct diag d = { 0 };
	struct vm_config *c = NULL;
	int r = vm_config_parse_string("t", text, "t.ini", &c, &d);

	if (r != 0 || !c || d.n != 0) {
		_cleanup_free_ char *all = diag_join(&d, "\n  ");

		fprintf(stderr, "%s:%d: expected a valid file, got %d:\n  %s\n", file, line, r, all ? all : "");
		exit(1);
	}
	return c;
}
#define parse_ok(text) parse_ok_at(__FILE__, __LINE__, text)

/* The file must be refused with exactly these messages, in this order (NULL-terminated). */
static void expect_errors_at(const char *file, int line, const char *text, ...)
{
	struct diag d = { 0 };
	struct vm_config *c = NULL;
	size_t n = 0;
	va_list ap;
	int r = vm_config_parse_string("t", text, "t.ini", &c, &d);
	bool ok = r == -EINVAL && !c;

	va_start(ap, text);
	for (const char *want; (want = va_arg(ap, const char *)); n++)
		if (n >= d.n || strcmp(d.lines[n], want) != 0)
			ok = false;
	va_end(ap);
	if (!ok || n != d.n) {
		_cleanup_free_ char *all = diag_join(&d, "\n  ");

		fprintf(stderr, "%s:%d: expected -EINVAL and %zu message(s), got %d and:\n  %s\n", file, line, n, r,
			all ? all : "(none)");
		exit(1);
	}
	vm_config_free(c);
	diag_clear(&d);
}
#define expect_errors(text, ...) expect_errors_at(__FILE__, __LINE__, text, __VA_ARGS__, NULL)

static void write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;

	CHECK(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "we");
	CHECK(f);
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
}

static char *make_conf_dir(void)
{
	char *dir = strdup("/tmp/hookd-test-config.XXXXXX");
	_cleanup_free_ char *vms = NULL;

	CHECK(dir && mkdtemp(dir));
	CHECK(asprintf(&vms, "%s/vms", dir) > 0);
	CHECK(mkdir(vms, 0755) == 0);
	return dir;
}

static void remove_tree(const char *dir)
{
	_cleanup_free_ char *cmd = NULL;

	/* Only ever our own mkdtemp directory under /tmp. */
	CHECK(startswith(dir, "/tmp/hookd-test-config."));
	CHECK(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
	CHECK(system(cmd) == 0);
}

/* ---- the seed machines and the shipped example ---- */

static void check_seed1(const struct vm_config *c)
{
	CHECK_INT(c->n_unload_modules, 4);
	CHECK_STR(c->unload_modules[0], "nvidia_drm");
	CHECK_STR(c->unload_modules[1], "nvidia_modeset");
	CHECK_STR(c->unload_modules[2], "nvidia_uvm");
	CHECK_STR(c->unload_modules[3], "nvidia");
	CHECK(!c->release_console);
	CHECK(!c->devices_from_xml);
	CHECK_INT(c->n_devices, 2);
	CHECK_STR(c->devices[0].name, "gpu");
	CHECK_STR(c->devices[0].address, "0000:0a:00.0");
	CHECK(!c->devices[0].has_match);
	CHECK(c->devices[0].whole_group);
	CHECK(!c->devices[0].reset_method);
	CHECK_STR(c->devices[1].name, "nvme");
	CHECK_STR(c->devices[1].address, "0000:04:00.0");
	CHECK(!c->devices[1].whole_group);
}

static void test_seed_machines(void)
{
	struct diag d = { 0 };
	struct vm_config *c = NULL;

	CHECK_INT(vm_config_load(TEST_DATA_DIR "/conf", "win10", &c, &d), 0);
	CHECK_STR(c->name, "win10");
	CHECK_STR(c->path, TEST_DATA_DIR "/conf/vms/win10.ini");
	check_seed1(c);
	vm_config_free(c);

	CHECK_INT(vm_config_load(TEST_DATA_DIR "/conf", "navi", &c, &d), 0);
	CHECK_INT(c->n_unload_modules, 0);
	CHECK_INT(c->n_devices, 2);
	CHECK_STR(c->devices[0].name, "navi");
	CHECK(!c->devices[0].address);
	CHECK(c->devices[0].has_match);
	CHECK_INT(c->devices[0].vendor, 0x1002);
	CHECK_INT(c->devices[0].device, 0x731f);
	CHECK(!c->devices[0].match_many);
	CHECK_STR(c->devices[0].reset_method, "device_specific");
	CHECK_STR(c->devices[1].name, "navi-audio");
	CHECK_INT(c->devices[1].vendor, 0x1002);
	CHECK_INT(c->devices[1].device, 0xab38);
	CHECK(!c->devices[1].reset_method);
	CHECK_INT(c->devices[1].line, 6);
	vm_config_free(c);
	CHECK_INT(d.n, 0);
}

/* conf/vms/example.ini is what users copy: it must stay valid and stay seed machine 1. */
static void test_shipped_example(void)
{
	struct diag d = { 0 };
	struct vm_config *c = NULL;
	struct hookd_config *h = NULL;

	CHECK_INT(vm_config_load(TEST_SOURCE_ROOT "/conf", "example", &c, &d), 0);
	check_seed1(c);
	vm_config_free(c);

	CHECK_INT(hookd_config_load(TEST_SOURCE_ROOT "/conf", &h, &d), 0);
	CHECK_INT(h->operation_timeout_ms, HOOKD_DEFAULT_OPERATION_TIMEOUT_MS);
	CHECK_INT(h->sysfs_timeout_ms, HOOKD_DEFAULT_SYSFS_TIMEOUT_MS);
	CHECK_INT(h->hook_timeout_ms, HOOKD_DEFAULT_HOOK_TIMEOUT_MS);
	CHECK_INT(h->n_vms, 1);
	CHECK(hookd_config_find_vm(h, "example"));
	hookd_config_free(h);
	CHECK_INT(d.n, 0);
}

/* ---- values ---- */

static void test_pci_address(void)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "0a:00.0", "0000:0a:00.0" },	    { "0000:0a:00.0", "0000:0a:00.0" }, { "0A:1F.7", "0000:0a:1f.7" },
		{ "abcd:ff:00.3", "abcd:ff:00.3" }, { "00:00.0", "0000:00:00.0" },
	};
	static const char *const bad[] = {
		"",	     "0a:00",	      "0a:20.0", "0a:00.8",	"0a:00.0 ",	 " 0a:00.0",
		"0:0a:00.0", "10000:0a:00.0", "0a-00.0", "0g:00.0",	"0000:0a:00.00", "0000.0a:00.0",
		"0a:00:0",   "+a:00.0",	      "0x:00.0", "0000:0a:00.",
	};
	char out[13];

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		CHECK_INT(pci_address_canonical(good[i].in, out), 0);
		CHECK_STR(out, good[i].out);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		strcpy(out, "untouched");
		if (pci_address_canonical(bad[i], out) != -EINVAL) {
			fprintf(stderr, "accepted bad address '%s'\n", bad[i]);
			exit(1);
		}
	}
}

static void test_booleans(void)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "0" };
	_cleanup_free_ char *text = NULL;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		free(text);
		CHECK(asprintf(&text, "[vm]\ndevices-from-xml = %s\nrelease-console = %s\n", yes[i], no[i]) > 0);
		struct vm_config *c = parse_ok(text);
		CHECK(c->devices_from_xml);
		CHECK(!c->release_console);
		vm_config_free(c);
	}
	expect_errors("[vm]\ndevices-from-xml = yes\nrelease-console = maybe\nwhole-group =\n",
		      "t.ini:3: bad boolean 'maybe' for release-console (use yes or no)",
		      "t.ini:4: bad boolean '' for whole-group (use yes or no)");
}

static void test_modules(void)
{
	struct vm_config *c;

	/* Continuation lines append, comments after them are stripped, '-' and '_' are kept as written. */
	c = parse_ok("[vm]\n"
		     "devices-from-xml = yes\n"
		     "unload-modules = nvidia-drm   ; first\n"
		     "    nvidia_modeset\tnvidia_uvm ; the comment goes\n"
		     "\n"
		     "  nvidia\n");
	CHECK_INT(c->n_unload_modules, 4);
	CHECK_STR(c->unload_modules[0], "nvidia-drm");
	CHECK_STR(c->unload_modules[1], "nvidia_modeset");
	CHECK_STR(c->unload_modules[2], "nvidia_uvm");
	CHECK_STR(c->unload_modules[3], "nvidia");
	vm_config_free(c);

	c = parse_ok("[vm]\ndevices-from-xml = yes\nunload-modules =\n");
	CHECK_INT(c->n_unload_modules, 0);
	vm_config_free(c);

	expect_errors(
		"[vm]\ndevices-from-xml = yes\nunload-modules = nvidia_drm nvidia.ko\n  nvidia-drm\n",
		"t.ini:3: bad module name 'nvidia.ko' in unload-modules (letters, digits, '_' and '-', at most 55)",
		"t.ini:4: module 'nvidia-drm' is listed twice in unload-modules");
	expect_errors(
		"[vm]\ndevices-from-xml = yes\n"
		"unload-modules = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		"t.ini:3: bad module name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' in unload-modules "
		"(letters, digits, '_' and '-', at most 55)");
}

/* Issue 12's freeing keys: each opt-in, off by default. */
static void test_freeing(void)
{
	struct vm_config *c, *d;

	c = parse_ok("[vm]\ndevices-from-xml = yes\n");
	CHECK_INT(c->n_stop_units, 0);
	CHECK(!c->end_sessions);
	CHECK(!c->inhibit_sleep);
	CHECK(!c->holders_timeout_set);
	CHECK_INT(c->holders_timeout_ms, VM_DEFAULT_HOLDERS_TIMEOUT_MS);
	vm_config_free(c);

	c = parse_ok("[vm]\n"
		     "devices-from-xml = yes\n"
		     "stop-units = display-manager.service  ; first\n"
		     "  nvidia-persistenced.service getty@tty1.service\n"
		     "end-sessions = yes\n"
		     "inhibit-sleep = yes\n"
		     "holders-timeout = 2.5\n");
	CHECK_INT(c->n_stop_units, 3);
	CHECK_STR(c->stop_units[0], "display-manager.service");
	CHECK_STR(c->stop_units[1], "nvidia-persistenced.service");
	CHECK_STR(c->stop_units[2], "getty@tty1.service");
	CHECK(!c->stop_units[3]);
	CHECK(c->end_sessions);
	CHECK(c->inhibit_sleep);
	CHECK(c->holders_timeout_set);
	CHECK_INT(c->holders_timeout_ms, 2500);
	d = vm_config_dup(c);
	CHECK(d);
	CHECK_INT(d->n_stop_units, 3);
	CHECK_STR(d->stop_units[2], "getty@tty1.service");
	CHECK(d->end_sessions && d->inhibit_sleep && d->holders_timeout_set);
	CHECK_INT(d->holders_timeout_ms, 2500);
	vm_config_free(d);
	vm_config_free(c);

	c = parse_ok("[vm]\ndevices-from-xml = yes\nend-sessions = yes\nholders-timeout = 0\n");
	CHECK(c->holders_timeout_set);
	CHECK_INT(c->holders_timeout_ms, 0);
	vm_config_free(c);

	expect_errors(
		"[vm]\ndevices-from-xml = yes\n"
		"stop-units = display-manager nvidia-persistenced.service getty@.service\n"
		"  libvirtd.service nvidia-persistenced.service a/b.service\n",
		"t.ini:3: bad unit 'display-manager' in stop-units: a unit name ends in .service, .socket, "
		".target, .timer or .path",
		"t.ini:3: bad unit 'getty@.service' in stop-units: a template unit needs its instance "
		"(name@instance.service)",
		"t.ini:4: bad unit 'libvirtd.service' in stop-units: hookd needs that unit running while it works",
		"t.ini:4: unit 'nvidia-persistenced.service' is listed twice in stop-units",
		"t.ini:4: bad unit 'a/b.service' in stop-units: not a unit name (letters, digits and :_.\\@-, at "
		"most 255)");
	expect_errors("[vm]\ndevices-from-xml = yes\nend-sessions = maybe\ninhibit-sleep = 2\n"
		      "holders-timeout = forever\n",
		      "t.ini:3: bad boolean 'maybe' for end-sessions (use yes or no)",
		      "t.ini:4: bad boolean '2' for inhibit-sleep (use yes or no)",
		      "t.ini:5: bad holders-timeout 'forever' (seconds, 0 to 600)");
	expect_errors("[vm]\ndevices-from-xml = yes\nholders-timeout = 5\nend-sessions = no\n",
		      "t.ini:3: holders-timeout is only meaningful with stop-units or end-sessions (without them a "
		      "device in use is refused at once)");
	expect_errors("[vm]\ndevices-from-xml = yes\nholders-timeout = 601\nstop-unit = x.service\n",
		      "t.ini:3: bad holders-timeout '601' (seconds, 0 to 600)",
		      "t.ini:4: unknown key 'stop-unit' in [vm] (did you mean 'stop-units'?)");
}

static void test_reset_method(void)
{
	struct vm_config *c = parse_ok("[device.a]\naddress = 01:00.0\nreset-method =   bus\t  flr \n");

	CHECK_STR(c->devices[0].reset_method, "bus flr");
	vm_config_free(c);
	for (const char *const *m =
		     (const char *const[]){ "device_specific", "acpi", "flr", "af_flr", "pm", "bus", NULL };
	     *m; m++) {
		_cleanup_free_ char *text = NULL;

		CHECK(asprintf(&text, "[device.a]\naddress = 01:00.0\nreset-method = %s\n", *m) > 0);
		c = parse_ok(text);
		CHECK_STR(c->devices[0].reset_method, *m);
		vm_config_free(c);
	}
	expect_errors(
		"[device.a]\naddress = 01:00.0\nreset-method = default\n",
		"t.ini:3: bad reset-method 'default': unknown reset method (the kernel's methods: device_specific "
		"acpi flr af_flr pm bus)");
	expect_errors("[device.a]\naddress = 01:00.0\nreset-method = flr flr\n",
		      "t.ini:3: bad reset-method 'flr flr': a reset method is listed twice (the kernel's methods: "
		      "device_specific acpi flr af_flr pm bus)");
	expect_errors("[device.a]\naddress = 01:00.0\nreset-method =\n",
		      "t.ini:3: bad reset-method '': no reset method given (the kernel's methods: device_specific acpi "
		      "flr af_flr pm bus)");
}

static void test_match(void)
{
	struct vm_config *c = parse_ok("[device.many]\nmatch = 10DE:1E07\nmatch-many = yes\nwhole-group = on\n");

	CHECK(c->devices[0].has_match);
	CHECK_INT(c->devices[0].vendor, 0x10de);
	CHECK_INT(c->devices[0].device, 0x1e07);
	CHECK(c->devices[0].match_many);
	CHECK(c->devices[0].whole_group);
	vm_config_free(c);

	expect_errors("[device.a]\nmatch = 1002:731\n\n[device.b]\nmatch = ffff:0000\n[device.c]\nmatch = 1002-731f\n",
		      "t.ini:2: bad match '1002:731' (expected VENDOR:DEVICE in hex, like 1002:731f)",
		      "t.ini:5: bad match 'ffff:0000' (expected VENDOR:DEVICE in hex, like 1002:731f)",
		      "t.ini:7: bad match '1002-731f' (expected VENDOR:DEVICE in hex, like 1002:731f)");
	expect_errors("[device.a]\naddress = 01:00.0\nmatch-many = yes\n",
		      "t.ini:3: match-many is only meaningful with match");
}

/* vm-cpus: auto or a CPU list, kept in canonical form; the XML's pins are resolved later (test-cpuset). */
static void test_vm_cpus(void)
{
	struct vm_config *c = parse_ok("[vm]\nvm-cpus = 10-13 2-5,0 8\n[device.gpu]\naddress = 0a:00.0\n");

	CHECK_STR(c->vm_cpus, "0,2-5,8,10-13");
	vm_config_free(c);
	c = parse_ok("[vm]\nvm-cpus = auto\ndevices-from-xml = yes\n");
	CHECK_STR(c->vm_cpus, "auto");
	vm_config_free(c);
	c = parse_ok("[vm]\ndevices-from-xml = yes\n");
	CHECK(!c->vm_cpus && !c->isolate_cpus);
	vm_config_free(c);
	c = parse_ok("[vm]\ndevices-from-xml = yes\nisolate-cpus = yes\n");
	CHECK(c->isolate_cpus && !c->vm_cpus && !c->steer_irqs); /* vm-cpus not set: auto */
	vm_config_free(c);
	c = parse_ok("[vm]\ndevices-from-xml = yes\nsteer-irqs = on\n");
	CHECK(c->steer_irqs && !c->isolate_cpus);
	vm_config_free(c);
	expect_errors("[vm]\ndevices-from-xml = yes\nsteer-irqs = maybe\n",
		      "t.ini:3: bad boolean 'maybe' for steer-irqs (use yes or no)");

	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = 3-1\n",
		      "t.ini:3: bad vm-cpus '3-1': a range goes downwards (use auto or a CPU list such as 2-5,8)");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus =\n",
		      "t.ini:3: bad vm-cpus '': no CPU given (use auto or a CPU list such as 2-5,8)");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = 0-3,^2\n",
		      "t.ini:3: bad vm-cpus '0-3,^2': expected a CPU number (use auto or a CPU list such as 2-5,8)");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = 2 # the GPU's\n",
		      "t.ini:3: bad vm-cpus '2 # the GPU's': expected a CPU number (use auto or a CPU list such as "
		      "2-5,8) ('#' starts a comment only at the start of a line; after a value use ' ;')");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = auto\nvm-cpus = 1\n",
		      "t.ini:4: duplicate key 'vm-cpus' in [vm] (first set on line 3)");
}

/* cpu-governor and energy-performance-preference: cpufreq names, for the CPUs vm-cpus names (so it must be set);
 * the host's offer is checked when the VM starts (test-host-steps). */
static void test_cpu_governor(void)
{
	struct vm_config *c = parse_ok("[vm]\nvm-cpus = 2-3\ncpu-governor = performance\n"
				       "energy-performance-preference = balance_performance\ndevices-from-xml = yes\n");
	struct vm_config *d = vm_config_dup(c);

	CHECK_STR(c->cpu_governor, "performance");
	CHECK_STR(c->energy_performance_preference, "balance_performance");
	CHECK_STR(d->cpu_governor, "performance");
	CHECK_STR(d->energy_performance_preference, "balance_performance");
	vm_config_free(c);
	vm_config_free(d);
	expect_errors(
		"[vm]\ndevices-from-xml = yes\ncpu-governor = performance\n",
		"t.ini:3: cpu-governor needs vm-cpus (auto, or the VM's host CPUs such as 2-7): the CPUs it is set "
		"for");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = 2\ncpu-governor = ../performance\n",
		      "t.ini:4: bad cpu-governor '../performance' (a name such as performance, as the CPU's cpufreq "
		      "lists it)");
	expect_errors("[vm]\ndevices-from-xml = yes\nvm-cpus = 2\nenergy-performance-preference =\n",
		      "t.ini:4: bad energy-performance-preference '' (a name such as performance, as the CPU's "
		      "cpufreq lists it)");
}

/* whole-group: a device's own value wins, else [vm]'s, wherever [vm] stands in the file. */
static void test_whole_group_default(void)
{
	struct vm_config *c = parse_ok("[device.a]\naddress = 01:00.0\n"
				       "[device.b]\naddress = 02:00.0\nwhole-group = no\n"
				       "[vm]\nwhole-group = yes\n");

	CHECK(c->whole_group);
	CHECK(c->devices[0].whole_group);
	CHECK(!c->devices[1].whole_group);
	vm_config_free(c);
}

/* [vm] hugepages and hugepage-size: the values, and hugepage-size alone refused. */
static void test_hugepages_keys(void)
{
	struct vm_config *c, *d;

	c = parse_ok("[device.a]\naddress = 01:00.0\n");
	CHECK_INT(c->hugepages.mode, HUGEPAGES_OFF);
	vm_config_free(c);
	c = parse_ok("[vm]\nhugepages = auto\n[device.a]\naddress = 01:00.0\n");
	CHECK_INT(c->hugepages.mode, HUGEPAGES_AUTO);
	CHECK_INT(c->hugepages.size_kib, 0);
	vm_config_free(c);
	c = parse_ok("[vm]\nhugepages = 8192\nhugepage-size = 2M\n[device.a]\naddress = 01:00.0\n");
	CHECK_INT(c->hugepages.mode, HUGEPAGES_COUNT);
	CHECK_INT(c->hugepages.count, 8192);
	CHECK_INT(c->hugepages.size_kib, 2048);
	d = vm_config_dup(c);
	CHECK(d);
	CHECK_INT(d->hugepages.mode, HUGEPAGES_COUNT);
	CHECK_INT(d->hugepages.count, 8192);
	CHECK_INT(d->hugepages.size_kib, 2048);
	vm_config_free(d);
	vm_config_free(c);
	static const struct {
		const char *text;
		uint64_t kib;
	} sizes[] = { { "1G", 1048576 }, { "1GiB", 1048576 }, { "2048kB", 2048 }, { "2048", 2048 }, { "2 MiB", 2048 } };
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint64_t kib = 0;

		CHECK_INT(hugepage_size_parse(sizes[i].text, &kib), 0);
		CHECK_INT(kib, sizes[i].kib);
	}
	expect_errors("[vm]\nhugepages = lots\nhugepage-size = 2X\n[device.a]\naddress = 01:00.0\n",
		      "t.ini:2: bad hugepages 'lots' (auto, or a page count from 1 to 4294967296)",
		      "t.ini:3: bad hugepage-size '2X' (a size such as 2M or 1G)");
	expect_errors("[vm]\nhugepages = 0\n[device.a]\naddress = 01:00.0\n",
		      "t.ini:2: bad hugepages '0' (auto, or a page count from 1 to 4294967296)");
	/* Hugepages alone are something to do: a VM without passed-through devices. */
	c = parse_ok("[vm]\nhugepages = 64\n");
	CHECK_INT(c->n_devices, 0);
	vm_config_free(c);
	expect_errors("[vm]\nhugepage-size = 1G\n[device.a]\naddress = 01:00.0\n",
		      "t.ini:2: hugepage-size is only meaningful with hugepages (auto or a count)");
}

/* ---- every error, with its line ---- */

static void test_errors(void)
{
	expect_errors("[vm]\ndevices-from-xml = yes\n[vms]\nfoo = bar\n",
		      "t.ini:3: unknown section [vms] (expected [vm] or [device.NAME])");
	expect_errors("[vm]\ndevices-from-xml = yes\nrelease-consol = no\nbogus = 1\n",
		      "t.ini:3: unknown key 'release-consol' in [vm] (did you mean 'release-console'?)",
		      "t.ini:4: unknown key 'bogus' in [vm]");
	expect_errors("[device.gpu]\nadress = 0a:00.0\n",
		      "t.ini:2: unknown key 'adress' in [device.gpu] (did you mean 'address'?)",
		      "t.ini:1: [device.gpu] needs address or match");
	expect_errors("devices-from-xml = yes\n[vm]\ndevices-from-xml = yes\n",
		      "t.ini:1: key 'devices-from-xml' outside a section (put it under [vm] or [device.NAME])");
	expect_errors("[device.gpu]\naddress = 0a:00\n",
		      "t.ini:2: bad PCI address '0a:00' (expected DDDD:BB:DD.F or BB:DD.F, like 0000:0a:00.0)");
	expect_errors("\n[device.gpu]\naddress = 0a:00.0\nmatch = 10de:1e07\n",
		      "t.ini:2: [device.gpu] has both address (line 3) and match (line 4); use one");
	expect_errors("[device.gpu]\n[device.nvme]\naddress = 04:00.0\n",
		      "t.ini:1: [device.gpu] needs address or match");
	expect_errors("[vm]\ndevices-from-xml = yes\n[vm]\nwhole-group = yes\n",
		      "t.ini:3: duplicate section [vm] (first on line 1)");
	expect_errors("[device.gpu]\naddress = 0a:00.0\n[device.gpu]\naddress = 0b:00.0\n",
		      "t.ini:3: duplicate section [device.gpu] (first on line 1)");
	expect_errors("[device.gpu]\naddress = 0a:00.0\naddress = 0a:00.1\n",
		      "t.ini:3: duplicate key 'address' in [device.gpu] (first set on line 2)");
	expect_errors("[vm]\nunload-modules = a\nunload-modules = b\ndevices-from-xml = yes\n",
		      "t.ini:3: duplicate key 'unload-modules' in [vm] (first set on line 2)");
	/* The short and the long form name the same device. */
	expect_errors("[device.a]\naddress = 0a:00.0\n[device.b]\naddress = 0000:0A:00.0\n",
		      "t.ini:4: address 0000:0a:00.0 is already in [device.a] (line 1)");
	expect_errors("[device.a]\nmatch = 1002:731f\n[device.b]\nmatch = 1002:731F\n",
		      "t.ini:4: match 1002:731f is already in [device.a] (line 1)");
	expect_errors(
		"[device.]\naddress = 01:00.0\n[device.a b]\naddress = 02:00.0\n"
		"[device.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
		"t.ini:1: bad device name in [device.] (letters, digits, '_' and '-', at most 32)",
		"t.ini:3: bad device name in [device.a b] (letters, digits, '_' and '-', at most 32)",
		"t.ini:5: bad device name in [device.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] (letters, digits, '_' and "
		"'-', at most 32)");
	expect_errors("[device.a]\n= 01:00.0\n", "t.ini:2: missing key name before '='",
		      "t.ini:1: [device.a] needs address or match");
	/* A VM configuration that would do nothing. */
	expect_errors("", "t.ini: this VM configuration does nothing: add a [device.NAME] section or set "
			  "devices-from-xml = yes");
	expect_errors("; only a comment\n[vm]\nunload-modules = nvidia\n",
		      "t.ini: this VM configuration does nothing: add a [device.NAME] section or set "
		      "devices-from-xml = yes");
	/* Syntax errors: every one of them, not only the first that inih reports. */
	expect_errors("[vm]\ndevices-from-xml = yes\njust words\n[device.gpu\nmore words\n",
		      "t.ini:3: expected 'key = value', '[section]' or a comment",
		      "t.ini:4: section header without a closing ']'",
		      "t.ini:5: expected 'key = value', '[section]' or a comment");
	/* After a broken header its keys are not blamed on the section before it. */
	expect_errors("[device.gpu]\naddress = 0a:00.0\n[device.nvme\naddress = 04:00.0\n",
		      "t.ini:3: section header without a closing ']'");
	expect_errors("[device.gpu\naddress = 0a:00.0\n", "t.ini:1: section header without a closing ']'");
	/* Only unload-modules and stop-units may continue on an indented line. */
	expect_errors("[device.gpu]\naddress = 0a:00.0\n  0a:00.1\n",
		      "t.ini:3: indented line continues 'address'; only unload-modules and stop-units may span several "
		      "lines");
}

/* One file with many problems: all of them come out, in line order, then the whole-file checks. */
static void test_all_problems_collected(void)
{
	expect_errors(
		"[vm]\n"
		"unload-modules = nvidia bad.name\n"
		"release-console = perhaps\n"
		"[device.gpu]\n"
		"adress = 0a:00.0\n"
		"[device.nvme]\n"
		"address = 04:00.0\n"
		"[device.other]\n"
		"address = 04:00.0\n"
		"whole-group = 2\n",
		"t.ini:2: bad module name 'bad.name' in unload-modules (letters, digits, '_' and '-', at most 55)",
		"t.ini:3: bad boolean 'perhaps' for release-console (use yes or no)",
		"t.ini:5: unknown key 'adress' in [device.gpu] (did you mean 'address'?)",
		"t.ini:10: bad boolean '2' for whole-group (use yes or no)",
		"t.ini:4: [device.gpu] needs address or match",
		"t.ini:9: address 0000:04:00.0 is already in [device.nvme] (line 6)");
}

static void test_vm_name(void)
{
	struct diag d = { 0 };
	struct vm_config *c = NULL;

	CHECK_INT(vm_config_parse_string("a/b", "[device.a]\naddress = 01:00.0\n", "t.ini", &c, &d), -EINVAL);
	CHECK(!c);
	CHECK_INT(d.n, 1);
	CHECK_STR(d.lines[0], "t.ini: invalid VM name: the VM name may not contain '/'");
	diag_clear(&d);

	c = NULL;
	CHECK_INT(vm_config_parse_string("Windows 10 Pro", "[device.a]\naddress = 01:00.0\n", "t.ini", &c, &d), 0);
	CHECK_STR(c->name, "Windows 10 Pro");
	vm_config_free(c);
}

/* ---- what the packaged inih does, pinned ---- */

static void test_inih_behaviour(void)
{
	struct vm_config *c;
	_cleanup_free_ char *long_line = NULL;

	/* ';' after whitespace starts a comment; '#' and ';' at the start of a line (even indented) do. */
	c = parse_ok("# comment\n; comment\n[device.gpu] ; trailing comment\n  ; indented comment\n"
		     "address = 0a:00.0 ; the GPU\n   # another\nwhole-group = yes\t; tab before ';' counts\n");
	CHECK_STR(c->devices[0].address, "0000:0a:00.0");
	vm_config_free(c);
	/* ... but "yes;" is a value, and '#' after a value is not a comment: a clear error with a hint. */
	expect_errors("[device.gpu]\naddress = 0a:00.0\nwhole-group = yes;\n",
		      "t.ini:3: bad boolean 'yes;' for whole-group (use yes or no)");
	expect_errors("[device.gpu]\naddress = 0a:00.0 # the GPU\n",
		      "t.ini:2: bad PCI address '0a:00.0 # the GPU' (expected DDDD:BB:DD.F or BB:DD.F, like "
		      "0000:0a:00.0) ('#' starts a comment only at the start of a line; after a value use ' ;')");
	/* "key: value" is inih syntax too; spaces around '=' are optional; CRLF and a UTF-8 BOM are fine. */
	c = parse_ok("\xEF\xBB\xBF[device.gpu]\r\naddress: 0a:00.0\r\nwhole-group=yes\r\n");
	CHECK_STR(c->devices[0].address, "0000:0a:00.0");
	CHECK(c->devices[0].whole_group);
	vm_config_free(c);
	/* A file without a final newline. */
	c = parse_ok("[device.gpu]\naddress = 0a:00.0");
	vm_config_free(c);
	/* Lines inih would split are refused, whatever follows is still read. */
	CHECK(asprintf(&long_line, "[device.gpu]\naddress = 0a:00.0\n; %0197d\nwhole-group = maybe\n", 0) > 0);
	expect_errors(long_line, "t.ini:3: line is longer than 197 characters",
		      "t.ini:4: bad boolean 'maybe' for whole-group (use yes or no)");
	/* Exactly 197 characters still fit. */
	free(long_line);
	CHECK(asprintf(&long_line, "[device.gpu]\naddress = 0a:00.0\n;%0196d\n", 0) > 0);
	vm_config_free(parse_ok(long_line));
	/* Section names longer than inih keeps are still compared whole. */
	expect_errors("[device.a]\naddress = 01:00.0\n"
		      "[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]\nkey = v\n",
		      "t.ini:3: unknown section [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx] "
		      "(expected [vm] or [device.NAME])");
	/* An indented line right after a section header is a key of its own, not a continuation. */
	c = parse_ok("[device.gpu]\n   address = 0a:00.0\n");
	vm_config_free(c);
}

/* Parse, write back as INI, parse again: the same configuration. Catches values that do not survive. */
static char *emit(const struct vm_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f);
	fprintf(f, "[vm]\nrelease-console = %s\ndevices-from-xml = %s\nwhole-group = %s\nunload-modules =",
		c->release_console ? "yes" : "no", c->devices_from_xml ? "yes" : "no", c->whole_group ? "yes" : "no");
	for (size_t i = 0; i < c->n_unload_modules; i++)
		fprintf(f, "\n  %s", c->unload_modules[i]);
	fputs("\nstop-units =", f);
	for (size_t i = 0; i < c->n_stop_units; i++)
		fprintf(f, " %s", c->stop_units[i]);
	fprintf(f, "\nend-sessions = %s\ninhibit-sleep = %s\n", c->end_sessions ? "yes" : "no",
		c->inhibit_sleep ? "yes" : "no");
	if (c->holders_timeout_set)
		fprintf(f, "holders-timeout = %u.%03u\n", c->holders_timeout_ms / 1000, c->holders_timeout_ms % 1000);
	if (c->vm_cpus)
		fprintf(f, "vm-cpus = %s\n", c->vm_cpus);
	fprintf(f, "isolate-cpus = %s\nsteer-irqs = %s\n", c->isolate_cpus ? "yes" : "no",
		c->steer_irqs ? "yes" : "no");
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct vm_device_config *d = &c->devices[i];

		fprintf(f, "[device.%s]\n", d->name);
		if (d->address)
			fprintf(f, "address = %s\n", d->address);
		else
			fprintf(f, "match = %04x:%04x\nmatch-many = %s\n", d->vendor, d->device,
				d->match_many ? "yes" : "no");
		fprintf(f, "whole-group = %s\n", d->whole_group ? "yes" : "no");
		if (d->reset_method)
			fprintf(f, "reset-method = %s\n", d->reset_method);
	}
	CHECK(fclose(f) == 0);
	return buf;
}

static void check_same(const struct vm_config *a, const struct vm_config *b)
{
	CHECK(a->release_console == b->release_console);
	CHECK(a->devices_from_xml == b->devices_from_xml);
	CHECK(a->whole_group == b->whole_group);
	CHECK(streq_ptr(a->vm_cpus, b->vm_cpus));
	CHECK(a->isolate_cpus == b->isolate_cpus && a->steer_irqs == b->steer_irqs);
	CHECK_INT(a->n_unload_modules, b->n_unload_modules);
	for (size_t i = 0; i < a->n_unload_modules; i++)
		CHECK_STR(a->unload_modules[i], b->unload_modules[i]);
	CHECK_INT(a->n_stop_units, b->n_stop_units);
	for (size_t i = 0; i < a->n_stop_units; i++)
		CHECK_STR(a->stop_units[i], b->stop_units[i]);
	CHECK(a->end_sessions == b->end_sessions);
	CHECK(a->inhibit_sleep == b->inhibit_sleep);
	CHECK(a->holders_timeout_set == b->holders_timeout_set);
	CHECK_INT(a->holders_timeout_ms, b->holders_timeout_ms);
	CHECK_INT(a->n_devices, b->n_devices);
	for (size_t i = 0; i < a->n_devices; i++) {
		const struct vm_device_config *x = &a->devices[i], *y = &b->devices[i];

		CHECK_STR(x->name, y->name);
		CHECK(streq_ptr(x->address, y->address));
		CHECK(x->has_match == y->has_match);
		CHECK_INT(x->vendor, y->vendor);
		CHECK_INT(x->device, y->device);
		CHECK(x->match_many == y->match_many);
		CHECK(x->whole_group == y->whole_group);
		CHECK(streq_ptr(x->reset_method, y->reset_method));
	}
}

static void test_round_trip(void)
{
	static const char *const files[] = {
		TEST_DATA_DIR "/conf/vms/win10.ini",
		TEST_DATA_DIR "/conf/vms/navi.ini",
		TEST_SOURCE_ROOT "/conf/vms/example.ini",
	};

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *text = NULL, *again = NULL;
		struct vm_config *a, *b;
		FILE *f = fopen(files[i], "re");
		size_t n;

		CHECK(f);
		text = calloc(1, HOOKD_VM_CONFIG_MAX + 1);
		CHECK(text);
		n = fread(text, 1, HOOKD_VM_CONFIG_MAX, f);
		CHECK(n > 0);
		fclose(f);
		a = parse_ok(text);
		again = emit(a);
		b = parse_ok(again);
		check_same(a, b);
		vm_config_free(a);
		vm_config_free(b);
	}
}

/* ---- hookd.conf ---- */

static void expect_global_errors_at(const char *file, int line, const char *text, ...)
{
	struct diag d = { 0 };
	struct hookd_config *c = NULL;
	size_t n = 0;
	va_list ap;
	int r = hookd_config_parse_global_string(text, "hookd.conf", &c, &d);
	bool ok = r == -EINVAL && !c;

	va_start(ap, text);
	for (const char *want; (want = va_arg(ap, const char *)); n++)
		if (n >= d.n || strcmp(d.lines[n], want) != 0)
			ok = false;
	va_end(ap);
	if (!ok || n != d.n) {
		_cleanup_free_ char *all = diag_join(&d, "\n  ");

		fprintf(stderr, "%s:%d: expected -EINVAL and %zu message(s), got %d and:\n  %s\n", file, line, n, r,
			all ? all : "(none)");
		exit(1);
	}
	diag_clear(&d);
}
#define expect_global_errors(text, ...) expect_global_errors_at(__FILE__, __LINE__, text, __VA_ARGS__, NULL)

static void test_global(void)
{
	struct diag d = { 0 };
	struct hookd_config *c = NULL;

	CHECK_INT(hookd_config_parse_global_string("", "hookd.conf", &c, &d), 0);
	CHECK_INT(c->operation_timeout_ms, 60000);
	CHECK_INT(c->sysfs_timeout_ms, 10000);
	CHECK_INT(c->hook_timeout_ms, 90000);
	hookd_config_free(c);

	CHECK_INT(hookd_config_parse_global_string("[hook]\ntimeout = 2.5\n[daemon]\noperation-timeout = 1.25\n"
						   "sysfs-timeout = 0.001\n",
						   "hookd.conf", &c, &d),
		  0);
	CHECK_INT(c->operation_timeout_ms, 1250);
	CHECK_INT(c->sysfs_timeout_ms, 1);
	CHECK_INT(c->hook_timeout_ms, 2500);
	hookd_config_free(c);
	CHECK_INT(d.n, 0);

	expect_global_errors(
		"[daemon]\noperation-timeout = 120\n",
		"hookd.conf:2: [hook] timeout (90s) must be longer than [daemon] operation-timeout (120s): "
		"the hook would give up while the daemon is still working");
	expect_global_errors("[daemon]\noperation-timeout = 30\n[hook]\ntimeout = 30\n",
			     "hookd.conf:4: [hook] timeout (30s) must be longer than [daemon] operation-timeout (30s): "
			     "the hook would give up while the daemon is still working");
	expect_global_errors("[daemon]\nsysfs-timeout = 61\n",
			     "hookd.conf:2: [daemon] sysfs-timeout (61s) may not exceed operation-timeout (60s)");
	expect_global_errors(
		"[daemon]\noperation-timeout = 0\nsysfs-timeout = 1.0001\noperation_timeout = 5\n[hook]\ntimeout = "
		"1e3\n"
		"timeout = 5\n[misc]\nx = 1\n",
		"hookd.conf:2: bad operation-timeout '0' (seconds, more than 0 and at most 86400, up to 3 decimals: "
		"60, 0.5)",
		"hookd.conf:3: bad sysfs-timeout '1.0001' (seconds, more than 0 and at most 86400, up to 3 decimals: "
		"60, "
		"0.5)",
		"hookd.conf:4: unknown key 'operation_timeout' in [daemon] (did you mean 'operation-timeout'?)",
		"hookd.conf:6: bad timeout '1e3' (seconds, more than 0 and at most 86400, up to 3 decimals: 60, 0.5)",
		"hookd.conf:7: duplicate key 'timeout' in [hook] (first set on line 6)",
		"hookd.conf:8: unknown section [misc] (expected [daemon] or [hook])");
	expect_global_errors("timeout = 5\n[hook]\ntimeout = 86401\n[hook]\n",
			     "hookd.conf:1: key 'timeout' outside a section (put it under [daemon] or [hook])",
			     "hookd.conf:3: bad timeout '86401' (seconds, more than 0 and at most 86400, up to 3 "
			     "decimals: 60, 0.5)",
			     "hookd.conf:4: duplicate section [hook] (first on line 2)");
	expect_global_errors(
		"[hook]\ntimeout = -5\ntimout = 100\n",
		"hookd.conf:2: bad timeout '-5' (seconds, more than 0 and at most 86400, up to 3 decimals: "
		"60, 0.5)",
		"hookd.conf:3: unknown key 'timout' in [hook] (did you mean 'timeout'?)");
}

/* ---- loading a configuration directory ---- */

static void test_load_directory(void)
{
	struct diag d = { 0 };
	struct hookd_config *c = NULL;

	CHECK_INT(hookd_config_load(TEST_DATA_DIR "/conf", &c, &d), 0);
	CHECK_INT(d.n, 0);
	CHECK_STR(c->conf_dir, TEST_DATA_DIR "/conf");
	CHECK_INT(c->operation_timeout_ms, 45000);
	CHECK_INT(c->sysfs_timeout_ms, 7500);
	CHECK_INT(c->hook_timeout_ms, 60000);
	CHECK_INT(c->n_vms, 2);
	CHECK_STR(c->vms[0]->name, "navi");
	CHECK_STR(c->vms[1]->name, "win10");
	CHECK(hookd_config_find_vm(c, "win10") == c->vms[1]);
	CHECK(hookd_config_find_vm(c, "navi") == c->vms[0]);
	CHECK(!hookd_config_find_vm(c, "win11"));
	hookd_config_free(c);

	CHECK_INT(hookd_config_load_global(TEST_DATA_DIR "/conf", &c, &d), 0);
	CHECK_INT(c->operation_timeout_ms, 45000);
	CHECK_INT(c->n_vms, 0);
	hookd_config_free(c);
}

static void test_load_skips_and_sorts(void)
{
	_cleanup_free_ char *dir = make_conf_dir();
	_cleanup_free_ char *vms = NULL;
	struct diag d = { 0 };
	struct hookd_config *c = NULL;
	static const char dev[] = "[device.a]\naddress = 01:00.0\n";

	CHECK(asprintf(&vms, "%s/vms", dir) > 0);
	/* No hookd.conf: the defaults. */
	write_file(vms, "b.ini", dev);
	write_file(vms, "Windows 10 Pro.ini", dev);
	write_file(vms, "a-vm_1.2.ini", dev);
	write_file(vms, ".hidden.ini", "garbage\n");
	write_file(vms, ".ini", "garbage\n");
	write_file(vms, "b.ini~", "garbage\n");
	write_file(vms, "notes.txt", "garbage\n");
	write_file(vms, "c.ini.bak", "garbage\n");
	CHECK_INT(hookd_config_load(dir, &c, &d), 0);
	CHECK_INT(d.n, 0);
	CHECK_INT(c->hook_timeout_ms, HOOKD_DEFAULT_HOOK_TIMEOUT_MS);
	CHECK_INT(c->n_vms, 3);
	CHECK_STR(c->vms[0]->name, "Windows 10 Pro"); /* byte order: capitals first */
	CHECK_STR(c->vms[1]->name, "a-vm_1.2");
	CHECK_STR(c->vms[2]->name, "b");
	CHECK(hookd_config_find_vm(c, "a-vm_1.2"));
	hookd_config_free(c);
	remove_tree(dir);

	/* No vms/ at all: no VMs, not an error. */
	free(dir);
	dir = strdup("/tmp/hookd-test-config.XXXXXX");
	CHECK(dir && mkdtemp(dir));
	CHECK_INT(hookd_config_load(dir, &c, &d), 0);
	CHECK_INT(c->n_vms, 0);
	CHECK(!hookd_config_find_vm(c, "x"));
	hookd_config_free(c);
	CHECK_INT(d.n, 0);
	remove_tree(dir);
}

/* One bad file anywhere: nothing is returned, and every problem of every file is reported. */
static void test_load_all_or_nothing(void)
{
	_cleanup_free_ char *dir = make_conf_dir();
	_cleanup_free_ char *vms = NULL, *want1 = NULL, *want2 = NULL, *want3 = NULL;
	struct diag d = { 0 };
	struct hookd_config *c = NULL;

	CHECK(asprintf(&vms, "%s/vms", dir) > 0);
	write_file(dir, "hookd.conf", "[hook]\ntimeout = 10\n");
	write_file(vms, "good.ini", "[device.a]\naddress = 01:00.0\n");
	write_file(vms, "bad.ini", "[device.a]\naddress = 01:00.0\nwhole-group = sure\n");
	CHECK_INT(hookd_config_load(dir, &c, &d), -EINVAL);
	CHECK(!c);
	CHECK(asprintf(&want1,
		       "%s/hookd.conf:2: [hook] timeout (10s) must be longer than [daemon] operation-timeout "
		       "(60s): the hook would give up while the daemon is still working",
		       dir) > 0);
	CHECK(asprintf(&want2, "%s/vms/bad.ini:3: bad boolean 'sure' for whole-group (use yes or no)", dir) > 0);
	CHECK_INT(d.n, 2);
	CHECK_STR(d.lines[0], want1);
	CHECK_STR(d.lines[1], want2);
	diag_clear(&d);

	/* hookd_config_load_global only looks at hookd.conf. */
	CHECK_INT(hookd_config_load_global(dir, &c, &d), -EINVAL);
	CHECK_INT(d.n, 1);
	diag_clear(&d);

	/* A file name that is no VM name. */
	write_file(dir, "hookd.conf", "");
	write_file(vms, "bad.ini", "[device.a]\naddress = 01:00.0\n");
	write_file(vms, "a\tb.ini", "[device.a]\naddress = 01:00.0\n");
	CHECK_INT(hookd_config_load(dir, &c, &d), -EINVAL);
	CHECK(!c);
	CHECK(asprintf(&want3,
		       "%s/vms/a?b.ini: the file name is not a usable VM name: the VM name may not contain "
		       "control characters",
		       dir) > 0);
	CHECK_INT(d.n, 1);
	CHECK_STR(d.lines[0], want3);
	diag_clear(&d);
	remove_tree(dir);
}

/* The daemon's loader: each file on its own, a file read again when it changed, the last good version kept. */
static void test_load_each(void)
{
	_cleanup_free_ char *dir = make_conf_dir();
	_cleanup_free_ char *vms = NULL;
	struct hookd_config *c = NULL, *fresh = NULL, *next = NULL;
	const struct vm_config_problem *b;

	CHECK(asprintf(&vms, "%s/vms", dir) > 0);
	write_file(dir, "hookd.conf", "[daemon]\noperation-timeout = 5\nsysfs-timeout = never\n");
	write_file(vms, "good.ini", "[device.a]\naddress = 01:00.0\n");
	write_file(vms, "bad.ini", "[device.a]\naddress = 01:00.0\nwhole-group = sure\n");
	CHECK_INT(hookd_config_load_each(dir, &c), 0);
	/* A broken hookd.conf: all of its values are the defaults, even the good line. */
	CHECK_INT(c->operation_timeout_ms, HOOKD_DEFAULT_OPERATION_TIMEOUT_MS);
	CHECK_INT(c->sysfs_timeout_ms, HOOKD_DEFAULT_SYSFS_TIMEOUT_MS);
	CHECK(c->global_problems.n >= 1);
	CHECK(strstr(c->global_problems.lines[0], "hookd.conf:3: bad sysfs-timeout"));
	CHECK_INT(c->n_vms, 1);
	CHECK_STR(c->vms[0]->name, "good");
	CHECK_INT(c->n_broken, 1);
	b = hookd_config_find_problem(c, "bad");
	CHECK(b && b->stamp.exists && !b->last_good_kept);
	CHECK(strstr(b->diag.lines[0], "bad.ini:3:"));
	CHECK(!hookd_config_find_vm(c, "bad"));

	/* Nothing changed on disk: nothing to do. */
	CHECK_INT(hookd_config_refresh_vm(c, "good", &fresh), 0);
	CHECK(!fresh);
	CHECK_INT(hookd_config_refresh_vm(c, "nobody", &fresh), 0);
	/* A new file is read; the rest is carried over. */
	write_file(vms, "new.ini", "[device.b]\naddress = 02:00.0\n");
	CHECK_INT(hookd_config_refresh_vm(c, "new", &fresh), 1);
	CHECK_STR(hookd_config_find_vm(fresh, "new")->devices[0].address, "0000:02:00.0");
	CHECK(hookd_config_find_vm(fresh, "good") && hookd_config_find_problem(fresh, "bad"));
	CHECK_INT(fresh->global_problems.n, c->global_problems.n);
	/* A good file broken by an edit (the size changes): a problem now, no good version. */
	write_file(vms, "good.ini", "[device.a]\naddress = 01:00.0\nmatch-many = yes\n");
	CHECK_INT(hookd_config_refresh_vm(fresh, "good", &next), 1);
	CHECK(!hookd_config_find_vm(next, "good"));
	CHECK(hookd_config_find_problem(next, "good"));
	hookd_config_free(next);
	next = NULL;

	/* A reload keeps the last good version of a VM whose new file is broken. */
	CHECK_INT(hookd_config_load_each(dir, &next), 0);
	CHECK(!hookd_config_find_vm(next, "good"));
	CHECK_INT(hookd_config_keep_last_good(next, fresh), 0);
	CHECK_STR(hookd_config_find_vm(next, "good")->devices[0].address, "0000:01:00.0");
	CHECK(hookd_config_find_problem(next, "good")->last_good_kept);
	CHECK(!hookd_config_find_vm(next, "bad")); /* never good: nothing to keep */
	/* Gone: neither good nor broken. */
	_cleanup_free_ char *gone = NULL;
	CHECK(asprintf(&gone, "%s/new.ini", vms) > 0);
	CHECK(unlink(gone) == 0);
	hookd_config_free(c);
	CHECK_INT(hookd_config_refresh_vm(next, "new", &c), 1);
	CHECK(!hookd_config_find_vm(c, "new") && !hookd_config_find_problem(c, "new"));
	hookd_config_free(c);
	hookd_config_free(fresh);
	hookd_config_free(next);
	remove_tree(dir);
}

static void test_vm_config_load(void)
{
	_cleanup_free_ char *dir = make_conf_dir();
	_cleanup_free_ char *vms = NULL, *sub = NULL, *big = NULL, *path = NULL, *want = NULL;
	struct diag d = { 0 };
	struct vm_config *c = NULL;
	int fd;

	CHECK(asprintf(&vms, "%s/vms", dir) > 0);
	/* Absent: -ENOENT and no message. */
	CHECK_INT(vm_config_load(dir, "nope", &c, &d), -ENOENT);
	CHECK_INT(d.n, 0);

	/* Names that would leave vms/ never reach the filesystem, even where a file waits for them. */
	write_file(dir, "escape.ini", "[device.a]\naddress = 01:00.0\n");
	CHECK_INT(vm_config_load(vms, "x/../../escape", &c, &d), -EINVAL);
	CHECK_INT(vm_config_load(vms, "../escape", &c, &d), -EINVAL);
	CHECK_INT(vm_config_load(dir, "..", &c, &d), -EINVAL);
	CHECK_INT(vm_config_load(dir, "", &c, &d), -EINVAL);
	CHECK_INT(vm_config_load(dir, NULL, &c, &d), -EINVAL);
	CHECK(!c);
	CHECK_INT(d.n, 5);
	CHECK_STR(d.lines[0], "invalid VM name: the VM name may not contain '/'");
	CHECK_STR(d.lines[1], "invalid VM name: the VM name may not start with '.'");
	diag_clear(&d);

	/* Exactly the limit is read; one byte more is refused without parsing. */
	big = malloc(HOOKD_VM_CONFIG_MAX + 2);
	CHECK(big);
	memset(big, '\n', HOOKD_VM_CONFIG_MAX + 1);
	memcpy(big, "[device.a]\naddress = 01:00.0\n", 29);
	big[HOOKD_VM_CONFIG_MAX] = '\0';
	write_file(vms, "limit.ini", big);
	CHECK_INT(vm_config_load(dir, "limit", &c, &d), 0);
	vm_config_free(c);
	c = NULL;
	big[HOOKD_VM_CONFIG_MAX] = '\n';
	big[HOOKD_VM_CONFIG_MAX + 1] = '\0';
	write_file(vms, "huge.ini", big);
	CHECK_INT(vm_config_load(dir, "huge", &c, &d), -EINVAL);
	CHECK(asprintf(&want, "%s/vms/huge.ini: larger than %u bytes: refused", dir, HOOKD_VM_CONFIG_MAX) > 0);
	CHECK_INT(d.n, 1);
	CHECK_STR(d.lines[0], want);
	diag_clear(&d);

	/* A NUL byte: not text. */
	CHECK(asprintf(&path, "%s/nul.ini", vms) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "[device.a]\n\0address = 01:00.0\n", 30) == 30);
	close(fd);
	CHECK_INT(vm_config_load(dir, "nul", &c, &d), -EINVAL);
	CHECK_INT(d.n, 1);
	CHECK(strstr(d.lines[0], "nul.ini: contains a NUL byte: not a text file"));
	diag_clear(&d);

	/* A directory and a FIFO named like VM files: refused, and the FIFO does not hang the reader. */
	CHECK(asprintf(&sub, "%s/dir.ini", vms) > 0);
	CHECK(mkdir(sub, 0755) == 0);
	CHECK_INT(vm_config_load(dir, "dir", &c, &d), -EINVAL);
	free(path);
	CHECK(asprintf(&path, "%s/fifo.ini", vms) > 0);
	CHECK(mkfifo(path, 0644) == 0);
	CHECK_INT(vm_config_load(dir, "fifo", &c, &d), -EINVAL);
	CHECK_INT(d.n, 2);
	CHECK(strstr(d.lines[0], "dir.ini: not a regular file"));
	CHECK(strstr(d.lines[1], "fifo.ini: not a regular file"));
	diag_clear(&d);

	/* Content errors carry the full path of the file. */
	write_file(vms, "typo.ini", "[device.gpu]\nadress = 0a:00.0\n");
	CHECK_INT(vm_config_load(dir, "typo", &c, &d), -EINVAL);
	free(want);
	CHECK(asprintf(&want, "%s/vms/typo.ini:2: unknown key 'adress' in [device.gpu] (did you mean 'address'?)",
		       dir) > 0);
	CHECK_STR(d.lines[0], want);
	diag_clear(&d);
	remove_tree(dir);
}

/* The man pages' examples are what users copy: every code block that starts with a section header parses. */
static unsigned check_man_examples(const char *path, bool vm)
{
	_cleanup_free_ char *text = calloc(1, 65536);
	unsigned n = 0;
	FILE *f = fopen(path, "re");
	char *p;

	CHECK(f && text);
	CHECK(fread(text, 1, 65535, f) > 0);
	fclose(f);
	for (p = text; (p = strstr(p, "```\n"));) {
		char *end = strstr(p + 4, "\n```");

		CHECK(end);
		*end = '\0';
		if (p[4] == '[') {
			struct diag d = { 0 };

			if (vm) {
				struct vm_config *c = NULL;

				CHECK_INT(vm_config_parse_string("man", p + 4, "man", &c, &d), 0);
				vm_config_free(c);
			} else {
				struct hookd_config *c = NULL;

				CHECK_INT(hookd_config_parse_global_string(p + 4, "man", &c, &d), 0);
				hookd_config_free(c);
			}
			n++;
		}
		p = end + 4;
	}
	return n;
}

static void test_man_examples(void)
{
	CHECK_INT(check_man_examples(TEST_SOURCE_ROOT "/man/hookd.vm.ini.5.scd", true), 5);
	CHECK_INT(check_man_examples(TEST_SOURCE_ROOT "/man/hookd.conf.5.scd", false), 1);
}

int main(void)
{
	RUN(test_seed_machines);
	RUN(test_shipped_example);
	RUN(test_pci_address);
	RUN(test_booleans);
	RUN(test_modules);
	RUN(test_freeing);
	RUN(test_reset_method);
	RUN(test_match);
	RUN(test_vm_cpus);
	RUN(test_cpu_governor);
	RUN(test_whole_group_default);
	RUN(test_hugepages_keys);
	RUN(test_errors);
	RUN(test_all_problems_collected);
	RUN(test_vm_name);
	RUN(test_inih_behaviour);
	RUN(test_round_trip);
	RUN(test_global);
	RUN(test_load_directory);
	RUN(test_load_skips_and_sorts);
	RUN(test_load_all_or_nothing);
	RUN(test_load_each);
	RUN(test_vm_config_load);
	RUN(test_man_examples);
	return 0;
}
