/* CPU isolation and interrupt steering as host changes (host-cpus.h, host-irqs.h): planning from vm-cpus and
 * the domain XML, the check's refusals, combining several VMs' CPUs, and the writes with their restore values,
 * through the fake kernel on a fixture tree and the fake host bus. Never the host's /sys, /proc or system bus. */
#include <sys/stat.h>

#include "config.h"
#include "engine-fixture.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "host-bus.h"
#include "host-changes.h"
#include "host-cpus.h"
#include "host-irqs.h"
#include "plan.h"
#include "strv.h"
#include "util.h"

static struct fixture f;

/* A 6-CPU host: system.slice and init.scope active, user.slice not loaded, the workqueues on every CPU. */
struct host {
	struct fake_kernel *k;
	struct fake_host_bus *b;
	struct host_context ctx;
};

static void host_up(struct host *h)
{
	fx_machine(&f);
	fx_write(&f, "sys", "devices/system/cpu/online", "0-5");
	fx_write(&f, "sys", HOST_WORKQUEUE_CPUMASK_PATH, "3f");
	h->k = fk_new(&f);
	h->b = fhb_new();
	fhb_add_unit(h->b, "system.slice", "active");
	fhb_add_unit(h->b, "init.scope", "active");
	fhb_add_unit(h->b, "machine.slice", "active");
	h->ctx = (struct host_context){
		.vm = "win10",
		.kernel = fk_kernel(h->k),
		.sysfs_root = f.sys,
		.proc_root = f.proc,
		.run_dir = f.run,
		.bus = fhb_bus(h->b),
		.timeout_ms = 1000,
	};
}

static void host_down(struct host *h)
{
	fhb_free(h->b);
	fk_free(h->k);
	fx_clear(&f);
}

#define PINNED_2_3                                                                                        \
	"<domain type='kvm'><name>win10</name><vcpu placement='static'>2</vcpu><cputune>"                 \
	"<vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/><emulatorpin cpuset='3'/></cputune>" \
	"</domain>"

static struct plan *plan_for(struct host *h, const char *vm_cpus, const char *xml, struct diag *d)
{
	struct vm_config vm = { .name = (char *)"win10", .isolate_cpus = true, .vm_cpus = (char *)vm_cpus };
	struct plan *p = calloc(1, sizeof(*p));

	CHECK(p && (p->vm = strdup("win10")));
	CHECK_INT(host_cpus_plan(&h->ctx, &vm, xml, p, d), 0);
	return p;
}

static void test_plan(void)
{
	struct host h;
	struct diag d = { 0 };
	struct plan *p;

	host_up(&h);
	/* vm-cpus = auto (or not set): the XML's pins. Only the slices systemd has active; never machine.slice. */
	p = plan_for(&h, NULL, PINNED_2_3, &d);
	CHECK_INT(d.n, 0);
	CHECK_INT(p->n_host_changes, 3);
	CHECK(p->host_changes[0].kind == HOST_ALLOWED_CPUS);
	CHECK_STR(p->host_changes[0].target, "system.slice");
	CHECK_STR(p->host_changes[1].target, "init.scope");
	CHECK(p->host_changes[2].kind == HOST_WORKQUEUE_CPUMASK);
	CHECK_STR(p->host_changes[2].target, "workqueue");
	for (size_t i = 0; i < p->n_host_changes; i++) {
		CHECK_STR(p->host_changes[i].wanted, "2-3");
		CHECK(p->host_changes[i].step == HOST_CHANGE_PLANNED && !p->host_changes[i].before);
	}
	plan_free(p);

	/* A list in the file wins over the XML. */
	p = plan_for(&h, "4-5", PINNED_2_3, &d);
	CHECK_INT(d.n, 0);
	CHECK_STR(p->host_changes[0].wanted, "4-5");
	plan_free(p);

	/* No bus (hookctl's dry run): every slice, checked when prepare runs. */
	h.ctx.bus = NULL;
	p = plan_for(&h, "1", NULL, &d);
	CHECK_INT(p->n_host_changes, 4);
	CHECK_STR(p->host_changes[1].target, "user.slice");
	plan_free(p);
	h.ctx.bus = fhb_bus(h.b);

	/* Refusals, one line each, nothing planned. */
	p = plan_for(&h, "4-7", NULL, &d);
	CHECK_INT(p->n_host_changes, 0);
	p = (plan_free(p), plan_for(&h, "auto", NULL, &d));
	p = (plan_free(p), plan_for(&h, NULL, "<domain><name>x</name><vcpu>1</vcpu></domain>", &d));
	CHECK_INT(p->n_host_changes, 0);
	plan_free(p);
	CHECK_INT(d.n, 3);
	CHECK_STR(d.lines[0], "VM win10: isolate-cpus: vm-cpus names CPUs 6-7, which are not online (online: 0-5)");
	CHECK_STR(d.lines[1],
		  "VM win10: isolate-cpus: vm-cpus = auto needs the domain XML (<cputune>), and there is none here");
	CHECK_STR(d.lines[2], "VM win10: isolate-cpus: the domain XML does not pin vCPU 0 (no <cputune><vcpupin "
			      "vcpu='0'> and no <vcpu cpuset>)");
	diag_clear(&d);

	/* A bus that fails is a problem named, not a slice silently skipped. */
	fhb_fail(h.b, FHB_UNIT_STATE, "init.scope", -ETIMEDOUT, "Connection timed out");
	p = plan_for(&h, "2", NULL, &d);
	CHECK_INT(d.n, 1);
	CHECK(strstr(d.lines[0], "cannot ask systemd about init.scope"));
	plan_free(p);
	diag_clear(&d);
	host_down(&h);
}

static struct plan_host_change change(enum host_change_kind kind, const char *target, const char *wanted)
{
	return (struct plan_host_change){ .kind = kind, .target = (char *)target, .wanted = (char *)wanted };
}

static void test_check(void)
{
	const struct host_change_reader *allowed = host_change_reader_for(HOST_ALLOWED_CPUS),
					*wq = host_change_reader_for(HOST_WORKQUEUE_CPUMASK);
	struct plan_host_change slice = change(HOST_ALLOWED_CPUS, "system.slice", "2-3"),
				workqueue = change(HOST_WORKQUEUE_CPUMASK, "workqueue", "2-3");
	_cleanup_free_ char *value = NULL;
	struct host h;
	char *why = NULL;

	host_up(&h);
	CHECK(allowed == &host_allowed_cpus_reader && allowed->shared);
	CHECK(wq == &host_workqueue_cpumask_reader && wq->shared);
	CHECK_INT(allowed->check(&h.ctx, &slice, &why), 0);
	CHECK(!why);
	CHECK_INT(wq->check(&h.ctx, &workqueue, &why), 0);
	CHECK_INT(allowed->read(&h.ctx, &slice, &value), 0);
	CHECK_STR(value, ""); /* unset, as systemd shows it */
	free(value);
	CHECK_INT(wq->read(&h.ctx, &workqueue, &value), 0);
	CHECK_STR(value, "3f");

	/* Another VM already holds 0-1,4-5: this one would leave the slice nothing. */
	fhb_set_allowed_cpus(h.b, "system.slice", "2-3");
	CHECK_INT(allowed->check(&h.ctx, &slice, &why), -EBUSY);
	CHECK_STR(why, "taking CPUs 2-3 would leave system.slice no CPU (it has 2-3)");
	free(why);
	fx_write(&f, "sys", HOST_WORKQUEUE_CPUMASK_PATH, "0000000c");
	CHECK_INT(wq->check(&h.ctx, &workqueue, &why), -EBUSY);
	CHECK_STR(why, "taking CPUs 2-3 would leave the unbound workqueues no CPU (it has 2-3)");
	free(why);

	/* A unit systemd does not have; a CPU the host does not have. */
	slice.target = (char *)"user.slice";
	CHECK_INT(allowed->check(&h.ctx, &slice, &why), -ENOENT);
	free(why);
	slice.target = (char *)"system.slice";
	slice.wanted = (char *)"6";
	CHECK_INT(allowed->check(&h.ctx, &slice, &why), -EINVAL);
	CHECK_STR(why, "vm-cpus names CPUs 6, which are not online (online: 0-5)");
	free(why);
	host_down(&h);
}

/* A reader's bus (hookctl; hookd on a fixture tree) cannot read AllowedCPUs: the slice is left to prepare's
 * check, reading it says so, writing it is refused. Never a call through a missing operation. */
static void test_read_only_bus(void)
{
	const struct host_change_reader *allowed = host_change_reader_for(HOST_ALLOWED_CPUS);
	const struct host_change_writer *writer = host_change_writer_for(HOST_ALLOWED_CPUS);
	struct plan_host_change slice = change(HOST_ALLOWED_CPUS, "system.slice", "2-3");
	struct host_bus ro;
	char *why = NULL, *value = NULL;
	struct host h;

	host_up(&h);
	CHECK_INT(host_bus_read_only_open(&ro), 0);
	h.ctx.bus = &ro;
	CHECK_INT(allowed->check(&h.ctx, &slice, &why), 0);
	CHECK(!why);
	CHECK_INT(allowed->read(&h.ctx, &slice, &value), -EOPNOTSUPP);
	CHECK(!value);
	slice.step = HOST_CHANGE_APPLYING;
	CHECK(writer->apply(&h.ctx, &slice, "0-1,4-5", &why) < 0);
	CHECK(!slice.applied);
	free(why);
	host_bus_system_close(&ro);
	host_down(&h);
}

static void check_combine(const struct host_change_reader *r, const char *before, const char *const *wanted,
			  const char *want)
{
	_cleanup_free_ char *value = NULL, *why = NULL;

	CHECK_INT(r->combine(before, (char *const *)wanted, &value, &why), 0);
	CHECK_STR(value, want);
	CHECK(!why);
}

static void test_combine(void)
{
	const struct host_change_reader *allowed = &host_allowed_cpus_reader, *wq = &host_workqueue_cpumask_reader;
	_cleanup_free_ char *value = NULL, *why = NULL;

	/* Two VMs: the host keeps what neither takes; an unset AllowedCPUs is every CPU (the writer keeps the
	 * online ones). */
	check_combine(allowed, "0-5", (const char *const[]){ "2-3", NULL }, "0-1,4-5");
	check_combine(allowed, "0-5", (const char *const[]){ "2-3", "3-4", NULL }, "0-1,5");
	check_combine(allowed, "", (const char *const[]){ "2-3", "4", NULL }, "0-1,5-8191");
	check_combine(wq, "3f", (const char *const[]){ "2-3", NULL }, "33");
	check_combine(wq, "000000ff,ffffffff", (const char *const[]){ "0-31", "36-39", NULL }, "f,00000000");

	CHECK_INT(allowed->combine("0-3", (char *const *)(const char *const[]){ "0-1", "2-3", NULL }, &value, &why),
		  -EBUSY);
	CHECK_STR(why, "taking CPUs 0-3 would leave the host no CPU (it has 0-3)");
	CHECK(!value);
	free(why);
	CHECK_INT(wq->combine("3", (char *const *)(const char *const[]){ "0-1", NULL }, &value, &why), -EBUSY);
	free(why);
	CHECK_INT(wq->combine("xyz", (char *const *)(const char *const[]){ "0-1", NULL }, &value, &why), -EINVAL);
	free(why);
	why = NULL;
}

static void test_write_and_restore(void)
{
	const struct host_change_writer *allowed = host_change_writer_for(HOST_ALLOWED_CPUS),
					*wq = host_change_writer_for(HOST_WORKQUEUE_CPUMASK);
	struct plan_host_change slice = change(HOST_ALLOWED_CPUS, "system.slice", "2-3"),
				workqueue = change(HOST_WORKQUEUE_CPUMASK, "workqueue", "2-3");
	struct host h;
	char *why = NULL;

	host_up(&h);
	CHECK(allowed == &host_allowed_cpus_writer && wq == &host_workqueue_cpumask_writer);
	slice.before = (char *)"";
	/* The combination of an unset slice: only the online CPUs are written. */
	CHECK_INT(allowed->apply(&h.ctx, &slice, "0-1,4-8191", &why), 0);
	CHECK_STR(fhb_allowed_cpus(h.b, "system.slice"), "0-1,4-5");
	CHECK_STR(slice.applied, "0-1,4-5");
	/* The last holder gives back an unset AllowedCPUs as the explicit full set, never "". */
	CHECK_INT(allowed->restore(&h.ctx, &slice, "", &why), 0);
	CHECK_STR(fhb_allowed_cpus(h.b, "system.slice"), "0-5");
	CHECK_STR(fhb_log(h.b), "set-allowed-cpus system.slice 0-1,4-5\nget-allowed-cpus system.slice\n"
				"set-allowed-cpus system.slice 0-5\nget-allowed-cpus system.slice\n");
	/* A value set before is given back exactly. */
	CHECK_INT(allowed->restore(&h.ctx, &slice, "1-4", &why), 0);
	CHECK_STR(fhb_allowed_cpus(h.b, "system.slice"), "1-4");

	/* systemd refusing is the bus's one line; a combination with no online CPU is refused unwritten. */
	fhb_log_clear(h.b);
	fhb_fail(h.b, FHB_SET_ALLOWED_CPUS, "system.slice", -EPERM, "Access denied");
	CHECK_INT(allowed->apply(&h.ctx, &slice, "0-1", &why), -EPERM);
	CHECK_STR(why, "Access denied");
	free(why);
	CHECK_INT(allowed->apply(&h.ctx, &slice, "6-8191", &why), -EBUSY);
	CHECK_STR(why, "AllowedCPUs '6-8191' leaves system.slice no online CPU");
	free(why);
	CHECK_STR(fhb_allowed_cpus(h.b, "system.slice"), "1-4");
	free(slice.applied);

	/* The workqueue mask through the kernel, read back. */
	CHECK_INT(wq->apply(&h.ctx, &workqueue, "33", &why), 0);
	CHECK_STR(fx_read(&f, "sys", HOST_WORKQUEUE_CPUMASK_PATH), "33");
	CHECK_STR(workqueue.applied, "33");
	CHECK_INT(wq->restore(&h.ctx, &workqueue, "3f", &why), 0);
	CHECK_STR(fx_read(&f, "sys", HOST_WORKQUEUE_CPUMASK_PATH), "3f");
	CHECK_INT(wq->apply(&h.ctx, &workqueue, "0", &why), -EINVAL);
	free(why);
	CHECK_STR(fx_read(&f, "sys", HOST_WORKQUEUE_CPUMASK_PATH), "3f");
	free(workqueue.applied);
	host_down(&h);
}

/* ---- steer-irqs ---- */

/* The GPU's legacy line 16 and MSI vectors 40-41; host IRQs 50 (everywhere), 51 (off the VM's CPUs already),
 * 60 (on a VM CPU only: nowhere else to go); IRQ 0 without an affinity file. The VM runs on 2-3. */
static struct plan *irq_plan(struct host *h, struct diag *d)
{
	struct vm_config vm = { .name = (char *)"win10", .steer_irqs = true, .vm_cpus = (char *)"2-3" };
	struct plan *p = calloc(1, sizeof(*p));

	fx_write(&f, "sys", "bus/pci/devices/" GPU "/irq", "16");
	fx_write(&f, "sys", "bus/pci/devices/" GPU "/msi_irqs/40", "msi");
	fx_write(&f, "sys", "bus/pci/devices/" GPU "/msi_irqs/41", "msi");
	fx_write(&f, "sys", "bus/pci/devices/" NVME_A "/irq", "0");
	fx_write(&f, "proc", "irq/16/smp_affinity_list", "0-5");
	fx_write(&f, "proc", "irq/40/smp_affinity_list", "0");
	fx_write(&f, "proc", "irq/41/smp_affinity_list", "2-3");
	fx_write(&f, "proc", "irq/50/smp_affinity_list", "0-5");
	fx_write(&f, "proc", "irq/51/smp_affinity_list", "0-1");
	fx_write(&f, "proc", "irq/60/smp_affinity_list", "3");
	fx_write(&f, "proc", "irq/0/spurious", "count 0");
	CHECK(p && (p->vm = strdup("win10")));
	p->devices = calloc(2, sizeof(*p->devices));
	CHECK(p->devices);
	memcpy(p->devices[0].address, GPU, 13);
	memcpy(p->devices[1].address, NVME_A, 13);
	p->n_devices = 2;
	CHECK_INT(host_irqs_plan(&h->ctx, &vm, NULL, p, d), 0);
	return p;
}

static void test_irq_plan(void)
{
	struct diag d = { 0 };
	struct host h;
	struct plan *p;

	host_up(&h);
	p = irq_plan(&h, &d);
	CHECK_INT(d.n, 0);
	/* In IRQ order; 41 is on the VM's CPUs already, 51 off them, 60 has nowhere else to go. */
	CHECK_INT(p->n_host_changes, 3);
	CHECK(p->host_changes[0].kind == HOST_IRQ_AFFINITY);
	CHECK_STR(p->host_changes[0].target, "16");
	CHECK_STR(p->host_changes[0].wanted, "on:2-3");
	CHECK_STR(p->host_changes[1].target, "40");
	CHECK_STR(p->host_changes[1].wanted, "on:2-3");
	CHECK_STR(p->host_changes[2].target, "50");
	CHECK_STR(p->host_changes[2].wanted, "off:2-3");
	CHECK_INT(host_changes_check(&h.ctx, p, &d), 0);
	CHECK_INT(d.n, 0);
	plan_free(p);
	host_down(&h);
}

static void test_irq_combine(void)
{
	const struct host_change_reader *r = host_change_reader_for(HOST_IRQ_AFFINITY);
	_cleanup_free_ char *value = NULL, *why = NULL;

	CHECK(r == &host_irq_affinity_reader && r->shared);
	check_combine(r, "0-5", (const char *const[]){ "off:2-3", NULL }, "0-1,4-5");
	check_combine(r, "0-5", (const char *const[]){ "off:2-3", "off:4", NULL }, "0-1,5");
	/* A device's IRQ goes to its VM's CPUs, whatever other VMs keep away from. */
	check_combine(r, "0-5", (const char *const[]){ "off:4", "on:2-3", NULL }, "2-3");
	/* Only on VMs' CPUs: left where it is. */
	check_combine(r, "2-3", (const char *const[]){ "off:2-3", NULL }, "2-3");
	CHECK_INT(r->combine("0-5", (char *const *)(const char *const[]){ "2-3", NULL }, &value, &why), -EINVAL);
	CHECK_STR(why, "'2-3' is not on:CPUS or off:CPUS");
}

static void test_irq_write_and_restore(void)
{
	const struct host_change_writer *w = host_change_writer_for(HOST_IRQ_AFFINITY);
	struct plan_host_change host_irq = change(HOST_IRQ_AFFINITY, "50", "off:2-3"),
				managed = change(HOST_IRQ_AFFINITY, "40", "on:2-3");
	struct diag d = { 0 };
	struct host h;
	char *why = NULL;

	host_up(&h);
	plan_free(irq_plan(&h, &d));
	CHECK(w == &host_irq_affinity_writer);
	fk_irq_managed(h.k, "40");
	CHECK_INT(w->apply(&h.ctx, &host_irq, "0-1,4-5", &why), 0);
	CHECK_STR(host_irq.applied, "0-1,4-5");
	CHECK_STR(fk_log(h.k), "proc irq/50/smp_affinity_list 0-1,4-5\n");
	/* The kernel refuses a managed IRQ: left alone, listed, and prepare goes on. */
	CHECK_INT(w->apply(&h.ctx, &managed, "2-3", &why), 0);
	CHECK_STR(managed.applied, HOST_IRQ_REFUSED);
	CHECK(!why);
	CHECK_INT(w->restore(&h.ctx, &managed, "0", &why), 0);
	CHECK_INT(w->restore(&h.ctx, &host_irq, "0-5", &why), 0);
	CHECK_STR(fk_log(h.k), "proc irq/50/smp_affinity_list 0-1,4-5\nproc irq/50/smp_affinity_list 0-5\n");
	/* An IRQ freed since (a device's MSI vector) has nothing to give back. */
	{
		_cleanup_free_ char *gone = NULL;

		CHECK(asprintf(&gone, "%s/irq/50", f.proc) >= 0);
		fx_rm_rf(gone);
	}
	CHECK_INT(w->restore(&h.ctx, &host_irq, "0-5", &why), 0);
	free(host_irq.applied);
	free(managed.applied);
	host_down(&h);
}

int main(void)
{
	RUN(test_plan);
	RUN(test_check);
	RUN(test_read_only_bus);
	RUN(test_combine);
	RUN(test_write_and_restore);
	RUN(test_irq_plan);
	RUN(test_irq_combine);
	RUN(test_irq_write_and_restore);
	return 0;
}
