/* Host changes' framework: the /proc writes of the kernels (fake, running over a fixture tree, read-only), the
 * host changes' journal round trip and its validation, the planner's helpers and the check phase's refusal,
 * and the fake host bus the kinds' tests rely on. Fixture trees and fakes only: never /sys, /proc or the
 * system bus. */
#include <sys/stat.h>

#include "engine-fixture.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "host-changes.h"
#include "journal.h"
#include "kernel.h"
#include "plan.h"
#include "strv.h"
#include "util.h"

static struct fixture f;

/* ---- proc_write ---- */

static void test_proc_write_fake_kernel(void)
{
	struct fake_kernel *k;

	fx_machine(&f);
	fx_write(&f, "proc", "irq/24/smp_affinity_list", "0-15");
	k = fk_new(&f);
	CHECK_INT(kernel_proc_write(fk_kernel(k), "irq/24/smp_affinity_list", "2-7", 1000), 0);
	CHECK_STR(fx_read(&f, "proc", "irq/24/smp_affinity_list"), "2-7");
	CHECK_STR(fk_log(k), "proc irq/24/smp_affinity_list 2-7\n");
	/* /proc has no file the engine may create: an IRQ that is not there is an error, and nothing appears. */
	CHECK_INT(kernel_proc_write(fk_kernel(k), "irq/99/smp_affinity_list", "2-7", 1000), -ENOENT);
	CHECK_STR(fk_log(k), "proc irq/24/smp_affinity_list 2-7\n");
	fk_free(k);
	fx_clear(&f);
}

/* The running kernel writes /proc under its proc root (a fixture tree here), never the host's /proc; the
 * read-only kernel hookctl uses refuses, leaving the file as it was. */
static void test_proc_write_running_and_read_only(void)
{
	struct kernel running, reader;

	fx_init(&f);
	fx_write(&f, "proc", "sys/vm/compact_memory", "0");
	CHECK_INT(kernel_running_new(f.sys, f.proc, false, &running), 0);
	CHECK_INT(kernel_proc_write(&running, "sys/vm/compact_memory", "1", 5000), 0);
	CHECK_STR(fx_read(&f, "proc", "sys/vm/compact_memory"), "1");
	CHECK_INT(kernel_proc_write(&running, "sys/vm/no-such-file", "1", 5000), -ENOENT);
	kernel_running_free(&running);

	CHECK_INT(kernel_read_only_new(f.sys, f.proc, &reader), 0);
	CHECK_INT(kernel_proc_write(&reader, "sys/vm/compact_memory", "0", 5000), -EROFS);
	CHECK_INT(kernel_write(&reader, "bus/pci/drivers_probe", GPU, 5000), -EROFS);
	CHECK_STR(fx_read(&f, "proc", "sys/vm/compact_memory"), "1");
	kernel_running_free(&reader);
	fx_clear(&f);
}

/* ---- the journal ---- */

static struct plan *plan_with_changes(void)
{
	struct plan *p = plan_new("win10");

	CHECK(p);
	CHECK_INT(plan_add_host_change(p, HOST_UNIT_STOPPED, "display-manager.service", "stop"), 0);
	CHECK_INT(plan_add_host_change(p, HOST_ALLOWED_CPUS, "system.slice", "2-7"), 0);
	CHECK_INT(plan_add_host_change(p, HOST_CPU_GOVERNOR, "cpu3", "performance"), 0);
	CHECK_INT(plan_add_host_change(p, HOST_HUGEPAGES, "node0/hugepages-2048kB", "8192"), 0);
	p->host_changes[0].before = strdup("active");
	p->host_changes[0].applied = strdup("inactive");
	p->host_changes[0].step = HOST_CHANGE_APPLIED;
	p->host_changes[1].before = strdup(""); /* unset AllowedCPUs: "" read, not "not read yet" */
	p->host_changes[1].step = HOST_CHANGE_APPLYING;
	p->host_changes[2].step = HOST_CHANGE_RESTORED;
	return p;
}

static void test_journal_round_trip(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_with_changes(), *back = NULL;
	json_object *j = plan_to_json(p), *j2;
	const char *text = json_object_to_json_string(j);

	CHECK_INT(journal_parse(text, strlen(text), "win10", &back), 0);
	CHECK_INT(back->n_host_changes, 4);
	CHECK_INT(back->host_changes[0].kind, HOST_UNIT_STOPPED);
	CHECK_STR(back->host_changes[0].target, "display-manager.service");
	CHECK_STR(back->host_changes[0].before, "active");
	CHECK_STR(back->host_changes[0].applied, "inactive");
	CHECK_INT(back->host_changes[0].step, HOST_CHANGE_APPLIED);
	CHECK_STR(back->host_changes[1].before, "");
	CHECK_INT(back->host_changes[1].step, HOST_CHANGE_APPLYING);
	CHECK(back->host_changes[2].before == NULL);
	CHECK_INT(back->host_changes[2].step, HOST_CHANGE_RESTORED);
	CHECK_STR(back->host_changes[3].wanted, "8192");
	CHECK_INT(back->host_changes[3].step, HOST_CHANGE_PLANNED);
	j2 = plan_to_json(back);
	CHECK_STR(json_object_to_json_string(j2), text);
	json_object_put(j);
	json_object_put(j2);
}

/* A journal is input like any other: the host-change entries that would make release write somewhere else,
 * or something it cannot name, refuse the whole journal. */
static int parse_with_change(const char *change_json)
{
	_cleanup_free_ char *text = NULL;
	struct plan *p = NULL;
	int r;

	CHECK(asprintf(&text,
		       "{\"vm\":\"win10\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[],\"host_changes\":[%s],"
		       "\"release_console\":false,\"vtconsoles\":[],\"firmware_framebuffers\":[],\"console\":"
		       "\"untouched\"}",
		       change_json) >= 0);
	r = journal_parse(text, strlen(text), "win10", &p);
	CHECK(r < 0 ? p == NULL : p != NULL);
	plan_free(p);
	return r;
}

static void test_journal_refuses_bad_changes(void)
{
	const char *good = "{\"kind\":\"cpu-governor\",\"target\":\"cpu3\",\"wanted\":\"performance\",\"before\":"
			   "\"powersave\",\"applied\":null,\"step\":\"applying\"}";
	_cleanup_free_ char *many = NULL;
	struct plan *p = NULL;
	const char *old;
	FILE *s;
	size_t len;

	CHECK_INT(parse_with_change(good), 0);
	CHECK_INT(parse_with_change(""), 0);
	CHECK_INT(
		parse_with_change("{\"kind\":\"cpu-turbo\",\"target\":\"cpu3\",\"wanted\":\"x\",\"step\":\"planned\"}"),
		-EINVAL);
	CHECK_INT(
		parse_with_change("{\"kind\":\"cpu-governor\",\"target\":\"cpu3\",\"wanted\":\"x\",\"step\":\"done\"}"),
		-EINVAL);
	/* Targets that would climb out of the tree they name, or are not what the kind names. */
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-governor\",\"target\":\"cpu3/../../../etc\",\"wanted\":\"x\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"hugepages\",\"target\":\"node0/../../../../etc\",\"wanted\":\"8\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"hugepages\",\"target\":\"/etc/passwd\",\"wanted\":\"8\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"irq-affinity\",\"target\":\"24 25\",\"wanted\":\"1\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-epp\",\"target\":\"cpux\",\"wanted\":\"x\",\"step\":\"planned\"}"),
		  -EINVAL);
	/* Values are one line; wanted and target are required. */
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-governor\",\"target\":\"cpu3\",\"wanted\":\"a\\nb\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-governor\",\"target\":\"cpu3\",\"wanted\":\"x\",\"before\":7,"
				    "\"step\":\"planned\"}"),
		  -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-governor\",\"target\":\"cpu3\",\"step\":\"planned\"}"), -EINVAL);
	CHECK_INT(parse_with_change("{\"kind\":\"cpu-governor\",\"wanted\":\"x\",\"step\":\"planned\"}"), -EINVAL);
	CHECK_INT(parse_with_change("\"cpu3\""), -EINVAL);
	/* The same change twice would be restored twice. */
	s = open_memstream(&many, &len);
	fprintf(s, "%s,%s", good, good);
	fclose(s);
	CHECK_INT(parse_with_change(many), -EINVAL);
	free(many);
	many = NULL;
	/* A bounded count. */
	s = open_memstream(&many, &len);
	for (unsigned i = 0; i <= HOST_CHANGES_MAX; i++)
		fprintf(s, "%s{\"kind\":\"irq-affinity\",\"target\":\"%u\",\"wanted\":\"1\",\"step\":\"planned\"}",
			i ? "," : "", i);
	fclose(s);
	CHECK_INT(parse_with_change(many), -EINVAL);

	/* A journal written before host changes existed has none, and still reads. */
	old = "{\"vm\":\"win10\",\"phase\":\"prepared\",\"devices\":[],\"modules\":[],\"release_console\":false,"
	      "\"vtconsoles\":[],\"firmware_framebuffers\":[],\"console\":\"untouched\"}";
	CHECK_INT(journal_parse(old, strlen(old), "win10", &p), 0);
	CHECK_INT(p->n_host_changes, 0);
	plan_free(p);
}

static void test_plan_add_host_change(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("win10");

	CHECK_INT(plan_add_host_change(p, HOST_CPU_GOVERNOR, "cpu3", "performance"), 0);
	CHECK_INT(plan_add_host_change(p, HOST_CPU_GOVERNOR, "cpu3", "powersave"), -EEXIST);
	CHECK_INT(plan_add_host_change(p, HOST_CPU_EPP, "cpu3", "performance"), 0); /* another kind */
	CHECK_INT(plan_add_host_change(p, HOST_CPU_GOVERNOR, "../cpu3", "performance"), -EINVAL);
	CHECK_INT(plan_add_host_change(p, HOST_CPU_GOVERNOR, "cpu4", "a\nb"), -EINVAL);
	CHECK_INT(plan_add_host_change(p, _HOST_CHANGE_KIND_MAX, "cpu4", "x"), -EINVAL);
	CHECK_INT(p->n_host_changes, 2);
	CHECK_INT(p->host_changes[1].step, HOST_CHANGE_PLANNED);
	CHECK(p->host_changes[1].before == NULL && p->host_changes[1].applied == NULL);
}

/* A planned change of a kind this hookd has no reader for is refused in the check phase, one line each. The
 * kind is the first that has none yet (as each helper fills the tables); once every kind has its reader,
 * the refusal cannot be planned, and every kind must have its writer too. */
static void test_check_refuses_unknown_kind(void)
{
	_cleanup_(plan_freep) struct plan *p = plan_new("win10");
	struct host_context ctx = { .vm = "win10", .sysfs_root = "/nonexistent", .proc_root = "/nonexistent" };
	struct diag d = { 0 };
	int kind = 0;
	_cleanup_free_ char *want = NULL;

	while (kind < _HOST_CHANGE_KIND_MAX && host_change_reader_for(kind))
		kind++;
	if (kind == _HOST_CHANGE_KIND_MAX) {
		for (kind = 0; kind < _HOST_CHANGE_KIND_MAX; kind++)
			CHECK(host_change_writer_for(kind) && (int)host_change_writer_for(kind)->kind == kind);
		return;
	}
	CHECK_INT(plan_add_host_change(p, kind, "24", "2-7"), 0);
	CHECK_INT(host_changes_check(&ctx, p, &d), 0);
	CHECK_INT(d.n, 1);
	CHECK(asprintf(&want, "VM win10: %s 24: this hookd cannot make that change", host_change_kind_to_string(kind)) >
	      0);
	CHECK_STR(d.lines[0], want);
	diag_clear(&d);
}

/* ---- the fake host bus, as the kinds' tests use it ---- */

static void test_fake_host_bus(void)
{
	struct fake_host_bus *b = fhb_new();
	const struct host_bus *bus = fhb_bus(b);
	_cleanup_strv_free_ char **ids = NULL;
	_cleanup_free_ char *state = NULL, *why = NULL, *cpus = NULL;
	int fd = -1;

	fhb_add_unit(b, "display-manager.service", "active");
	fhb_add_unit(b, "nvidia-persistenced.service", "failed");
	fhb_add_unit(b, "system.slice", "active");
	fhb_add_session(b, "2", "seat0");
	fhb_add_session(b, "c1", "seat1");

	CHECK_INT(bus->ops->unit_state(bus->data, "display-manager.service", &state, &why), 0);
	CHECK_STR(state, "active");
	CHECK_INT(bus->ops->unit_state(bus->data, "gdm.service", &state, &why), -ENOENT);
	CHECK_STR(why, "Unit gdm.service not found.");
	free(why);
	why = NULL;
	CHECK_INT(bus->ops->stop_unit(bus->data, "display-manager.service", 1000, &why), 0);
	CHECK_STR(fhb_unit_state(b, "display-manager.service"), "inactive");
	CHECK_INT(bus->ops->start_unit(bus->data, "nvidia-persistenced.service", 1000, &why), 0);
	CHECK_STR(fhb_unit_state(b, "nvidia-persistenced.service"), "active");

	CHECK_INT(bus->ops->get_allowed_cpus(bus->data, "system.slice", &cpus, &why), 0);
	CHECK_STR(cpus, "");
	CHECK_INT(bus->ops->set_allowed_cpus(bus->data, "system.slice", "", &why), -EINVAL);
	free(why);
	why = NULL;
	CHECK_INT(bus->ops->set_allowed_cpus(bus->data, "system.slice", "0-1", &why), 0);
	CHECK_STR(fhb_allowed_cpus(b, "system.slice"), "0-1");

	CHECK_INT(bus->ops->list_sessions(bus->data, "seat0", &ids, &why), 0);
	CHECK(ids[0] && streq(ids[0], "2") && !ids[1]);
	CHECK_INT(bus->ops->terminate_session(bus->data, "2", 1000, &why), 0);
	CHECK(!fhb_session_exists(b, "2") && fhb_session_exists(b, "c1"));

	CHECK_INT(bus->ops->inhibit(bus->data, "sleep", "hookd", "win10 has a GPU", &fd, &why), 0);
	CHECK_INT(fhb_inhibitors_held(b), 1);
	close(fd);
	CHECK_INT(fhb_inhibitors_held(b), 0);

	/* An injected failure changes nothing and says why; the second stop of the unit fails here. */
	fhb_fail_after(b, FHB_STOP_UNIT, "display-manager.service", -ETIMEDOUT, "Job timed out", 1);
	fhb_add_unit(b, "display-manager.service", "active");
	CHECK_INT(bus->ops->stop_unit(bus->data, "display-manager.service", 1000, &why), 0);
	fhb_add_unit(b, "display-manager.service", "active");
	CHECK_INT(bus->ops->stop_unit(bus->data, "display-manager.service", 1000, &why), -ETIMEDOUT);
	CHECK_STR(why, "Job timed out");
	CHECK_STR(fhb_unit_state(b, "display-manager.service"), "active");
	CHECK_STR(fhb_log(b), "unit-state display-manager.service\n"
			      "unit-state gdm.service\n"
			      "stop display-manager.service\n"
			      "reset-failed nvidia-persistenced.service\n"
			      "start nvidia-persistenced.service\n"
			      "get-allowed-cpus system.slice\n"
			      "set-allowed-cpus system.slice \"\"\n"
			      "set-allowed-cpus system.slice 0-1\n"
			      "list-sessions seat0\n"
			      "terminate 2\n"
			      "inhibit sleep\n"
			      "stop display-manager.service\n"
			      "stop display-manager.service FAILED\n");
	fhb_free(b);
}

/* Each kind's targets, as its planner writes them, and cousins a damaged journal could hold: a unit name
 * where a slice belongs, a path, a seat with a '/', a PCI address not canonical. */
static void test_targets_have_their_kinds_shape(void)
{
	static const struct {
		enum host_change_kind kind;
		const char *target;
		bool valid;
	} cases[] = {
		{ HOST_UNIT_STOPPED, "display-manager.service", true },
		{ HOST_UNIT_STOPPED, "getty@tty1.service", true },
		{ HOST_UNIT_STOPPED, "system.slice", false },
		{ HOST_UNIT_STOPPED, "display-manager", false },
		{ HOST_UNIT_STOPPED, ".service", false },
		{ HOST_ALLOWED_CPUS, "system.slice", true },
		{ HOST_ALLOWED_CPUS, "init.scope", true },
		{ HOST_ALLOWED_CPUS, "machine.slice", true },
		{ HOST_ALLOWED_CPUS, "sshd.service", false },
		{ HOST_ALLOWED_CPUS, "system", false },
		{ HOST_ALLOWED_CPUS, "sys tem.slice", false },
		{ HOST_SESSION_ENDED, "seat0", true },
		{ HOST_SESSION_ENDED, "seat-gpu_1", true },
		{ HOST_SESSION_ENDED, "seat0/x", false },
		{ HOST_SLEEP_INHIBITED, "sleep", true },
		{ HOST_SLEEP_INHIBITED, "shutdown", false },
		{ HOST_HOLDERS_GONE, "0000:0a:00.0", true },
		{ HOST_HOLDERS_GONE, "0a:00.0", false },
		{ HOST_HOLDERS_GONE, "0000:0A:00.0", false },
		{ HOST_HUGEPAGES, "node0/hugepages-2048kB", true },
		{ HOST_HUGEPAGES, "node1/hugepages-1048576kB", true },
		{ HOST_HUGEPAGES, "node0/nr_hugepages", false },
		{ HOST_HUGEPAGES, "node0", false },
		{ HOST_WORKQUEUE_CPUMASK, "workqueue", true },
		{ HOST_WORKQUEUE_CPUMASK, "devices/virtual/workqueue/cpumask", false },
		{ HOST_CPU_GOVERNOR, "cpu12", true },
		{ HOST_CPU_GOVERNOR, "cpu", false },
		{ HOST_CPU_EPP, "cpu0", true },
		{ HOST_IRQ_AFFINITY, "24", true },
		{ HOST_IRQ_AFFINITY, "24a", false },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		if (host_change_target_valid(cases[i].kind, cases[i].target) != cases[i].valid)
			fprintf(stderr, "%s '%s': expected %s\n", host_change_kind_to_string(cases[i].kind),
				cases[i].target, cases[i].valid ? "valid" : "refused");
		CHECK(host_change_target_valid(cases[i].kind, cases[i].target) == cases[i].valid);
	}
	/* Through the journal reader, as recovery reads it. */
	CHECK_INT(parse_with_change("{\"kind\":\"allowed-cpus\",\"target\":\"system.slice\",\"wanted\":\"0,3\","
				    "\"step\":\"planned\"}"),
		  0);
	CHECK_INT(parse_with_change("{\"kind\":\"allowed-cpus\",\"target\":\"sshd.service\",\"wanted\":\"0,3\","
				    "\"step\":\"planned\"}"),
		  -EINVAL);
}

int main(void)
{
	RUN(test_proc_write_fake_kernel);
	RUN(test_proc_write_running_and_read_only);
	RUN(test_journal_round_trip);
	RUN(test_journal_refuses_bad_changes);
	RUN(test_targets_have_their_kinds_shape);
	RUN(test_plan_add_host_change);
	RUN(test_check_refuses_unknown_kind);
	RUN(test_fake_host_bus);
	return 0;
}
