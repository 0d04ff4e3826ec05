/* CPU isolation and interrupt steering end to end through the engine, the fake kernel and the fake host bus:
 * applied before the devices move and journaled with the host's values, restored after they are back (an
 * unset AllowedCPUs as the explicit set of online CPUs, never ""), combined across two VMs so the first
 * release gives back only what the second does not need, refused before any write, undone by rollback, and
 * restored by recovery after a kill -9. Fixture trees and the fake bus only: never /sys, /proc or systemd. */
#include "engine-rig.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "host-cpus.h"
#include "host-irqs.h"
#include "plan.h"
#include "util.h"

static struct engine_rig rig;

/* Four CPUs; system.slice and init.scope active (no user.slice: nobody logged in), machine.slice too. */
static void setup(void)
{
	fx_machine(&rig.f);
	fx_write(&rig.f, "sys", "devices/system/cpu/online", "0-3");
	fx_write(&rig.f, "sys", HOST_WORKQUEUE_CPUMASK_PATH, "f");
	rig_start(&rig);
	fhb_add_unit(rig.bus, "system.slice", "active");
	fhb_add_unit(rig.bus, "init.scope", "active");
	fhb_add_unit(rig.bus, "machine.slice", "active");
	rig_up(&rig);
}

static void expect_host(const char *slices, const char *mask)
{
	CHECK_STR(fhb_allowed_cpus(rig.bus, "system.slice"), slices);
	CHECK_STR(fhb_allowed_cpus(rig.bus, "init.scope"), slices);
	CHECK_STR(fhb_allowed_cpus(rig.bus, "machine.slice"), ""); /* where the VMs run: never touched */
	CHECK_STR(fx_read(&rig.f, "sys", HOST_WORKQUEUE_CPUMASK_PATH), mask);
}

static const char *win10_ini = "[vm]\nvm-cpus = 2-3\nisolate-cpus = yes\n[device.ssd]\naddress = 04:00.0\n";
static const char *nas_ini = "[vm]\nvm-cpus = 3\nisolate-cpus = yes\n[device.ssd]\naddress = 05:00.0\n";

/* Isolation is in place with the SSD on vfio-pci, journaled with the host's values ("" for an unset slice);
 * release puts back the explicit full set. */
static void test_prepare_and_release(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	expect_host("0-1", "3");
	p = rig_journal(&rig, "win10");
	CHECK_STR(rig_change(p, HOST_ALLOWED_CPUS, "system.slice")->before, "");
	CHECK_STR(rig_change(p, HOST_ALLOWED_CPUS, "system.slice")->applied, "0-1");
	CHECK_INT(rig_change(p, HOST_ALLOWED_CPUS, "init.scope")->step, HOST_CHANGE_APPLIED);
	CHECK_STR(rig_change(p, HOST_WORKQUEUE_CPUMASK, "workqueue")->before, "f");

	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	expect_host("0-3", "f");
	CHECK(!strstr(fhb_log(rig.bus), "set-allowed-cpus system.slice \n")); /* never an empty value */
	rig_teardown(&rig);
}

/* VM's allowed-cpus change of SLICE in engine status: what it wrote (applied) and what every holder together
 * has the host hold (in_effect). */
static void expect_in_effect(const char *vm, const char *slice, const char *applied, const char *in_effect)
{
	json_object *st = NULL, *changes;
	bool found = false;

	CHECK_INT(engine_status(rig.e, vm, &st), 0);
	changes =
		json_object_object_get(json_object_array_get_idx(json_object_object_get(st, "vms"), 0), "host_changes");
	for (size_t i = 0; i < json_object_array_length(changes); i++) {
		json_object *c = json_object_array_get_idx(changes, i);

		if (!streq(json_object_get_string(json_object_object_get(c, "kind")), "allowed-cpus") ||
		    !streq(json_object_get_string(json_object_object_get(c, "target")), slice))
			continue;
		CHECK_STR(json_object_get_string(json_object_object_get(c, "applied")), applied);
		CHECK_STR(json_object_get_string(json_object_object_get(c, "in_effect")), in_effect);
		found = true;
	}
	CHECK(found);
	json_object_put(st);
}

/* Two VMs overlapping on CPU 3: the host keeps 0-1 while both run; win10's release gives back CPU 2 only. */
static void test_two_vms(void)
{
	_cleanup_(vm_config_freep) struct vm_config *a = rig_vm("win10", win10_ini), *b = rig_vm("nas", nas_ini);
	_cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, b, NULL, &m1), 0);
	expect_host("0-2", "7");
	CHECK_INT(engine_prepare(rig.e, a, NULL, &m2), 0);
	expect_host("0-1", "3");
	p = rig_journal(&rig, "win10");
	CHECK_STR(rig_change(p, HOST_ALLOWED_CPUS, "system.slice")->before, ""); /* the host's, not nas's 0-2 */
	CHECK_STR(rig_change(p, HOST_WORKQUEUE_CPUMASK, "workqueue")->before, "f");
	/* Status: nas wrote 0-2 when it came, but what the host holds now for both is 0-1. */
	expect_in_effect("nas", "system.slice", "0-2", "0-1");
	expect_in_effect("win10", "system.slice", "0-1", "0-1");
	CHECK_INT(engine_release(rig.e, "nas", &m3), 0);
	expect_host("0-1", "3"); /* win10 still needs 2-3 */
	CHECK_INT(engine_release(rig.e, "win10", &m4), 0);
	expect_host("0-3", "f");
	rig_teardown(&rig);
}

/* A VM on every CPU would leave the host none: refused before anything is written. */
static void test_refused(void)
{
	_cleanup_(vm_config_freep) struct vm_config *all =
		rig_vm("win10", "[vm]\nvm-cpus = 0-3\nisolate-cpus = yes\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;

	setup();
	CHECK_INT(engine_prepare(rig.e, all, NULL, &msg), ENGINE_REFUSED);
	CHECK(strstr(msg, "VM win10: allowed-cpus system.slice: taking CPUs 0-3 would leave system.slice no CPU"));
	CHECK_STR(fk_log(rig.k), "");
	CHECK(!strstr(fhb_log(rig.bus), "set-allowed-cpus"));
	rig_teardown(&rig);
}

/* A prepare that fails once the SSD starts moving gives the CPUs back in its rollback. */
static void test_rollback(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_free_ char *msg = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	setenv("HOOKD_FAULT", "fail-at:override:" NVME_A, 1);
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	unsetenv("HOOKD_FAULT");
	expect_host("0-3", "f");
	p = rig_journal(&rig, "win10");
	for (size_t i = 0; i < p->n_host_changes; i++)
		CHECK_INT(p->host_changes[i].step, HOST_CHANGE_RESTORED);
	rig_teardown(&rig);
#endif
}

/* kill -9 just before the workqueue mask is written, the slices already isolated: recovery and release
 * restore every one. The prepare runs in a child; the fake bus lives in the parent, so the child's slice
 * writes are replayed there as systemd would hold them. */
static void test_kill_and_recover(void)
{
#ifdef HOOKD_FAULT_INJECTION
	_cleanup_(vm_config_freep) struct vm_config *c = rig_vm("win10", win10_ini);
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *msg = NULL;

	setup();
	rig_prepare_killed(&rig, c, "crash-at:host-apply:workqueue-cpumask:workqueue", NULL);
	p = rig_journal(&rig, "win10");
	CHECK_INT(rig_change(p, HOST_ALLOWED_CPUS, "system.slice")->step, HOST_CHANGE_APPLIED);
	CHECK_INT(rig_change(p, HOST_WORKQUEUE_CPUMASK, "workqueue")->step, HOST_CHANGE_APPLYING);
	CHECK_STR(rig_change(p, HOST_WORKQUEUE_CPUMASK, "workqueue")->before, "f");
	fhb_set_allowed_cpus(rig.bus, "system.slice", "0-1");
	fhb_set_allowed_cpus(rig.bus, "init.scope", "0-1");

	rig_up(&rig); /* recovery */
	CHECK_INT(engine_release(rig.e, "win10", &msg), 0);
	expect_host("0-3", "f");
	rig_teardown(&rig);
#endif
}

/* steer-irqs: the SSD's IRQs onto its CPUs, a host IRQ off them, a managed one left alone; all back after. */
static void test_irqs(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nvm-cpus = 2-3\nsteer-irqs = yes\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;

	setup();
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/msi_irqs/33", "msi");
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/msi_irqs/34", "msi");
	fx_write(&rig.f, "proc", "irq/33/smp_affinity_list", "0-3");
	fx_write(&rig.f, "proc", "irq/34/smp_affinity_list", "1");
	fx_write(&rig.f, "proc", "irq/40/smp_affinity_list", "0-3");
	fk_irq_managed(rig.k, "34");
	CHECK_INT(engine_prepare(rig.e, c, NULL, &msg), 0);
	CHECK_STR(fx_read(&rig.f, "proc", "irq/33/smp_affinity_list"), "2-3");
	CHECK_STR(fx_read(&rig.f, "proc", "irq/34/smp_affinity_list"), "1");
	CHECK_STR(fx_read(&rig.f, "proc", "irq/40/smp_affinity_list"), "0-1");
	p = rig_journal(&rig, "win10");
	CHECK_STR(rig_change(p, HOST_IRQ_AFFINITY, "34")->applied, HOST_IRQ_REFUSED);
	CHECK_STR(rig_change(p, HOST_IRQ_AFFINITY, "40")->before, "0-3");
	CHECK_INT(engine_release(rig.e, "win10", &msg2), 0);
	CHECK_STR(fx_read(&rig.f, "proc", "irq/33/smp_affinity_list"), "0-3");
	CHECK_STR(fx_read(&rig.f, "proc", "irq/34/smp_affinity_list"), "1");
	CHECK_STR(fx_read(&rig.f, "proc", "irq/40/smp_affinity_list"), "0-3");
	rig_teardown(&rig);
}

/* The kernel takes the write but keeps another affinity (short of vectors on the CPUs asked for): apply reads
 * it back, prepare fails naming the IRQ and what it reads, and the rollback puts every IRQ back. */
static void test_irq_read_back(void)
{
	_cleanup_(vm_config_freep) struct vm_config *c =
		rig_vm("win10", "[vm]\nvm-cpus = 2-3\nsteer-irqs = yes\n[device.ssd]\naddress = 04:00.0\n");
	_cleanup_free_ char *msg = NULL;

	setup();
	fx_write(&rig.f, "sys", "bus/pci/devices/" NVME_A "/msi_irqs/33", "msi");
	fx_write(&rig.f, "proc", "irq/33/smp_affinity_list", "0-3");
	fx_write(&rig.f, "proc", "irq/40/smp_affinity_list", "0-3");
	fk_irq_keeps(rig.k, "40", "0-2");
	CHECK(engine_prepare(rig.e, c, NULL, &msg) < 0);
	CHECK(msg && strstr(msg, "IRQ 40's affinity reads 0-2 after 0-1 was written"));
	CHECK_STR(fx_read(&rig.f, "proc", "irq/33/smp_affinity_list"), "0-3");
	CHECK_STR(fx_read(&rig.f, "proc", "irq/40/smp_affinity_list"), "0-3");
	CHECK_STR(rig_driver(&rig, NVME_A), "nvme");
	rig_teardown(&rig);
}

int main(void)
{
	RUN(test_prepare_and_release);
	RUN(test_two_vms);
	RUN(test_refused);
	RUN(test_rollback);
	RUN(test_kill_and_recover);
	RUN(test_irqs);
	RUN(test_irq_read_back);
	return 0;
}
