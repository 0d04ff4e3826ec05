/* A VM's hugepages through the whole engine on the fixture machine and the fake kernel's pools: planned and
 * checked with the devices (hookctl check's path), refused before anything changes when they cannot be
 * sized. Fixture trees only, never /sys. */
#include <sys/stat.h>

#include "config.h"
#include "engine-fixture.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "util.h"

static struct fixture f;
static struct fake_kernel *k;
static struct engine *e;
static struct fake_host_bus *bus;

static struct vm_config *vm(const char *name, const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	CHECK_INT(vm_config_parse_string(name, text, "test.ini", &c, &d), 0);
	return c;
}

/* The machine with 64 boot-time 2 MiB pages on node 0, and room for 10000 more. */
static void setup(void)
{
	struct engine_options opts;

	fx_machine(&f);
	k = fk_new(&f);
	bus = fhb_new();
	fk_hugepages_add(k, 0, 2048, 64);
	fk_hugepages_set_memory(k, 0, 2048, 10000, 0);
	fx_write(&f, "proc", "meminfo", "MemTotal:       32000000 kB\nHugepagesize:       2048 kB");
	opts = (struct engine_options){ .sysfs_root = f.sys,
					.proc_root = f.proc,
					.run_dir = f.run,
					.sysfs_timeout_ms = 2000,
					.operation_timeout_ms = 60000,
					.kernel = fk_kernel(k),
					.host_bus = fhb_bus(bus) };
	CHECK_INT(engine_new(&opts, &e), 0);
	CHECK_INT(engine_recover(e), 0);
}

static void teardown(void)
{
	engine_free(e);
	fk_free(k);
	fhb_free(bus);
	fx_clear(&f);
}

/* engine_check's JSON for VM with XML, as a string (caller frees). */
static char *check_of(const struct vm_config *c, const char *xml)
{
	json_object *out = NULL;
	char *s;

	CHECK_INT(engine_check(e, c, xml, &out), 0);
	s = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	CHECK(s);
	return s;
}

static void test_check_plans_pages(void)
{
	static const char xml[] =
		"<domain type='kvm'><name>win10</name><uuid>5a1f0c3e-0000-4000-8000-000000000001</uuid>"
		"<memory unit='GiB'>1</memory><memoryBacking><hugepages/></memoryBacking></domain>";
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[vm]\nhugepages = auto\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_free_ char *out = NULL;

	setup();
	out = check_of(c, xml);
	CHECK(strstr(out, "\"ok\":true"));
	CHECK(strstr(out, "{\"kind\":\"hugepages\",\"target\":\"node0/hugepages-2048kB\",\"wanted\":\"512\","
			  "\"before\":null,\"applied\":null,\"step\":\"planned\"}"));
	/* Nothing changed. */
	CHECK_INT(fk_hugepages_nr(k, 0, 2048), 64);
	teardown();
}

/* A VM without passed-through devices, hugepages only. */
static void test_check_pages_only(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = vm("plain", "[vm]\nhugepages = 32\n");
	_cleanup_free_ char *out = NULL;

	setup();
	out = check_of(c, NULL);
	CHECK(strstr(out, "\"ok\":true"));
	CHECK(strstr(out, "\"devices\":[]"));
	CHECK(strstr(out, "\"target\":\"node0/hugepages-2048kB\",\"wanted\":\"32\""));
	teardown();
}

static void test_check_refuses(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		vm("win10", "[vm]\nhugepages = 8\nhugepage-size = 1G\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_(vm_config_freep) struct vm_config *no_xml =
		vm("win10", "[vm]\nhugepages = auto\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_free_ char *out = NULL, *out2 = NULL;

	setup();
	out = check_of(c, NULL);
	CHECK(strstr(out, "\"ok\":false"));
	CHECK(strstr(out, "\"VM win10: hugepages: the host offers no 1 GiB hugepages (it offers: 2 MiB)\""));
	out2 = check_of(no_xml, NULL);
	CHECK(strstr(out2, "\"VM win10: hugepages = auto needs the domain XML (or give hugepages = COUNT)\""));
	CHECK_INT(fk_hugepages_nr(k, 0, 2048), 64);
	teardown();
}

int main(void)
{
	RUN(test_check_plans_pages);
	RUN(test_check_refuses);
	RUN(test_check_pages_only);
	return 0;
}
