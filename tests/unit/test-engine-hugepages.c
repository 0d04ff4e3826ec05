/* A VM's hugepages through the whole engine on the fixture machine and the fake kernel's pools: planned and
 * checked with the devices (hookctl check's path), refused before anything changes when they cannot be
 * sized. Fixture trees only, never /sys. */
#include "engine-rig.h"
#include "engine.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "util.h"

static struct engine_rig rig;

/* 64 boot-time 2 MiB pages on node 0, and room for 10000 more. */
static void pools(struct fake_kernel *k)
{
	fk_hugepages_add(k, 0, 2048, 64);
	fk_hugepages_set_memory(k, 0, 2048, 10000, 0);
}

static void setup(void)
{
	fx_machine(&rig.f);
	rig_start(&rig);
	pools(rig.k);
	fx_write(&rig.f, "proc", "meminfo", "MemTotal:       32000000 kB\nHugepagesize:       2048 kB");
	fx_write(&rig.f, "proc", "sys/vm/compact_memory", "0");
	rig_up(&rig);
}

/* engine_check's JSON for VM with XML, as a string (caller frees). */
static char *check_of(const struct vm_config *c, const char *xml)
{
	json_object *out = NULL;
	char *s;

	CHECK_INT(engine_check(rig.e, c, xml, &out), 0);
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
		rig_vm("win10", "[vm]\nhugepages = auto\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_free_ char *out = NULL;

	setup();
	out = check_of(c, xml);
	CHECK(strstr(out, "\"ok\":true"));
	CHECK(strstr(out, "{\"kind\":\"hugepages\",\"target\":\"node0/hugepages-2048kB\",\"wanted\":\"512\","
			  "\"before\":null,\"applied\":null,\"step\":\"planned\"}"));
	/* Nothing changed. */
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	rig_teardown(&rig);
}

/* A VM without passed-through devices, hugepages only. */
static void test_check_pages_only(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("plain", "[vm]\nhugepages = 32\n");
	_cleanup_free_ char *out = NULL;

	setup();
	out = check_of(c, NULL);
	CHECK(strstr(out, "\"ok\":true"));
	CHECK(strstr(out, "\"devices\":[]"));
	CHECK(strstr(out, "\"target\":\"node0/hugepages-2048kB\",\"wanted\":\"32\""));
	rig_teardown(&rig);
}

static void test_check_refuses(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nhugepages = 8\nhugepage-size = 1G\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_(vm_config_freep) struct vm_config *no_xml =
		rig_vm("win10", "[vm]\nhugepages = auto\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_free_ char *out = NULL, *out2 = NULL;

	setup();
	out = check_of(c, NULL);
	CHECK(strstr(out, "\"ok\":false"));
	CHECK(strstr(out, "\"VM win10: hugepages: the host offers no 1 GiB hugepages (it offers: 2 MiB)\""));
	out2 = check_of(no_xml, NULL);
	CHECK(strstr(out2, "\"VM win10: hugepages = auto needs the domain XML (or give hugepages = COUNT)\""));
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	rig_teardown(&rig);
}

/* More pages than node 0 has in all: refused by the check, before any write (no pool write, no device
 * moved), in one line saying why. */
static void test_more_than_the_node_refused(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nhugepages = 100000\n[device.ssd]\naddress = " NVME_B "\n");
	_cleanup_free_ char *out = NULL, *msg = NULL;
	uint64_t largest;

	setup();
	fx_write(&rig.f, "sys", "devices/system/node/node0/meminfo", "Node 0 MemTotal:       16252928 kB\n");
	out = check_of(c, NULL);
	CHECK(strstr(out, "\"ok\":false"));
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), ENGINE_REFUSED);
	CHECK(strstr(msg, "VM win10: hugepages node0/hugepages-2048kB: 100000 pages of 2 MiB (195 GiB) are more than "
			  "node 0 has in all (15 GiB); "
			  "no reservation can hold them"));
	CHECK(!strchr(msg, '\n'));
	CHECK_INT(fk_hugepages_writes(rig.k, &largest), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	rig_teardown(&rig);
}

/* The VM's pool change: every test's pages are node 0's 2 MiB ones. */
static const struct plan_host_change *pages_of(const struct plan *p)
{
	return rig_change(p, HOST_HUGEPAGES, "node0/hugepages-2048kB");
}

#define SSD_VM "[vm]\nhugepages = 512\n[device.ssd]\naddress = " NVME_B "\n"

/* Pages before the devices move, the ledger in the journal, exactly those back on release. */
static void test_prepare_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", SSD_VM);
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL;
	const char *log;

	setup();
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64 + 512);
	CHECK_STR(rig_driver(&rig, NVME_B), "vfio-pci");
	log = fk_log(rig.k);
	CHECK(strstr(log, "hugepages node0 2048kB 576 -> 576") < strstr(log, NVME_B));
	p = rig_journal(&rig, "win10");
	CHECK_STR(pages_of(p)->before, "64");
	CHECK_STR(pages_of(p)->applied, "512");
	CHECK_INT(pages_of(p)->step, HOST_CHANGE_APPLIED);
	CHECK_INT(engine_release(rig.e, "win10", &msg), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	rig_teardown(&rig);
}

/* Memory too fragmented: refused in one line, nothing kept, no device moved. */
static void test_short_refused(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", SSD_VM);
	_cleanup_free_ char *msg = NULL;

	setup();
	fk_hugepages_set_memory(rig.k, 0, 2048, 100, 10);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	CHECK_STR(msg, "VM win10: hugepages node0/hugepages-2048kB: only 140 of 512 pages of 2 MiB could "
		       "be reserved on node 0 (memory is too fragmented or too full, after 4 compactions); none were "
		       "kept");
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	rig_teardown(&rig);
}

/* A device step failing after the pages were reserved: the rollback gives them back. */
static void test_rollback(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", SSD_VM);
	_cleanup_free_ char *msg = NULL;

	setup();
	setenv("HOOKD_FAULT", "fail-at:override:" NVME_B, 1);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	unsetenv("HOOKD_FAULT");
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	rig_teardown(&rig);
#endif
}

/* Two VMs overlapping: each gives back its own pages, whichever stops first. */
static void test_two_vms(void)
{
	_cleanup_(vm_config_freep) struct vm_config *a = rig_vm("a", "[vm]\nhugepages = 100\n");
	_cleanup_(vm_config_freep) struct vm_config *b = rig_vm("b", "[vm]\nhugepages = 200\n");
	_cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, a, NULL, &m1), 0);
	CHECK_INT(engine_prepare(rig.e, b, NULL, &m2), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 364);
	CHECK_INT(engine_release(rig.e, "a", &m3), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 264);
	CHECK_INT(engine_release(rig.e, "b", &m4), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	rig_teardown(&rig);
}

/* Killed after the pool was written but before the ledger reached the journal (APPLYING, no `applied`):
 * recovery gives back what the pool grew by, and the host keeps its 64. */
static void test_recovery_without_ledger(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", SSD_VM);
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	struct plan_host_change *pc;

	setup();
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	p = rig_journal(&rig, "win10");
	pc = (struct plan_host_change *)pages_of(p);
	pc->step = HOST_CHANGE_APPLYING;
	free(pc->applied);
	pc->applied = NULL;
	CHECK_INT(journal_save(rig.run_dir, p), 0);
	engine_free(rig.e);
	rig_up(&rig); /* recovery */
	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	CHECK_STR(rig_driver(&rig, NVME_B), "nvme");
	rig_teardown(&rig);
}

/* kill -9 at the reservation (journaled APPLYING, not written): recovery and release leave the pool as it was. */
static void test_kill_at_reservation(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", SSD_VM);
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL;

	setup();
	rig_prepare_killed(&rig, c, "crash-at:host-apply:hugepages:node0/hugepages-2048kB", pools);
	p = rig_journal(&rig, "win10");
	CHECK_INT(pages_of(p)->step, HOST_CHANGE_APPLYING);
	CHECK_STR(pages_of(p)->before, "64");
	rig_up(&rig);
	CHECK_INT(engine_release(rig.e, "win10", &msg), 0);
	CHECK_INT(fk_hugepages_nr(rig.k, 0, 2048), 64);
	rig_teardown(&rig);
#endif
}

int main(void)
{
	RUN(test_check_plans_pages);
	RUN(test_check_refuses);
	RUN(test_more_than_the_node_refused);
	RUN(test_check_pages_only);
	RUN(test_prepare_release);
	RUN(test_short_refused);
	RUN(test_rollback);
	RUN(test_two_vms);
	RUN(test_recovery_without_ledger);
	RUN(test_kill_at_reservation);
	return 0;
}
