/* The engine's end-to-end tests' rig: see engine-rig.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "config.h"
#include "diag.h"
#include "engine-rig.h"
#include "engine.h"
#include "fake-host-bus.h"
#include "fake-kernel.h"
#include "journal.h"
#include "plan.h"
#include "topology.h"
#include "util.h"

#define RIG_WRITE_TIMEOUT_MS 2000 /* the fake kernel keeps its own time: only the messages show it */
#define RIG_OPERATION_TIMEOUT_MS 60000

void rig_start(struct engine_rig *r)
{
	r->k = fk_new(&r->f);
	r->bus = fhb_new();
	r->e = NULL;
	r->kernel = NULL;
	r->operation_timeout_ms = 0;
	snprintf(r->run_dir, sizeof(r->run_dir), "/dev/shm/hookd-run-XXXXXX");
	if (!mkdtemp(r->run_dir))
		snprintf(r->run_dir, sizeof(r->run_dir), "%s", r->f.run);
}

void rig_up(struct engine_rig *r)
{
	struct engine_options opts = { .sysfs_root = r->f.sys,
				       .proc_root = r->f.proc,
				       .run_dir = r->run_dir,
				       .sysfs_timeout_ms = RIG_WRITE_TIMEOUT_MS,
				       .operation_timeout_ms = r->operation_timeout_ms ? r->operation_timeout_ms
										       : RIG_OPERATION_TIMEOUT_MS,
				       .kernel = r->kernel ? r->kernel : fk_kernel(r->k),
				       .host_bus = fhb_bus(r->bus) };

	CHECK_INT(engine_new(&opts, &r->e), 0);
	CHECK_INT(engine_recover(r->e), 0);
}

void rig_setup(struct engine_rig *r)
{
	fx_machine(&r->f);
	rig_start(r);
	rig_up(r);
}

void rig_teardown(struct engine_rig *r)
{
	engine_free(r->e);
	r->e = NULL;
	fk_free(r->k);
	r->k = NULL;
	fhb_free(r->bus);
	r->bus = NULL;
	if (startswith(r->run_dir, "/dev/shm/hookd-run-"))
		fx_rm_rf(r->run_dir);
	fx_clear(&r->f);
}

void rig_prepare_killed(struct engine_rig *r, const struct vm_config *vm, const char *fault,
			void (*arrange_kernel)(struct fake_kernel *k))
{
	int status;
	pid_t pid;

	engine_free(r->e);
	r->e = NULL;
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *msg = NULL;

		/* The child's own fake kernel: the parent's threads are not in the child. */
		r->k = fk_new(&r->f);
		if (arrange_kernel)
			arrange_kernel(r->k);
		rig_up(r);
		setenv("HOOKD_FAULT", fault, 1);
		engine_prepare(r->e, vm, NULL, &msg);
		_exit(3); /* not reached: the fault point kills */
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

struct vm_config *rig_vm(const char *name, const char *text)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	if (vm_config_parse_string(name, text, "test.ini", &c, &d) < 0) {
		_cleanup_free_ char *all = diag_join(&d, "\n");

		fprintf(stderr, "VM %s's file does not parse:\n%s\n", name, all);
		exit(1);
	}
	return c;
}

struct plan *rig_journal(const struct engine_rig *r, const char *name)
{
	struct plan *p = NULL;

	CHECK_INT(journal_load(r->run_dir, name, &p), 0);
	return p;
}

bool rig_journal_exists(const struct engine_rig *r, const char *name)
{
	_cleanup_(plan_freep) struct plan *p = NULL;

	return journal_load(r->run_dir, name, &p) == 0;
}

const struct plan_host_change *rig_change(const struct plan *p, enum host_change_kind kind, const char *target)
{
	for (size_t i = 0; i < p->n_host_changes; i++)
		if (p->host_changes[i].kind == kind && streq(p->host_changes[i].target, target))
			return &p->host_changes[i];
	fprintf(stderr, "no host change %s %s in VM %s's plan\n", host_change_kind_to_string(kind), target, p->vm);
	exit(1);
}

const char *rig_driver(const struct engine_rig *r, const char *address)
{
	static char buf[64];
	struct topology t = { .sysfs_root = r->f.sys, .proc_root = r->f.proc };
	_cleanup_free_ char *d = NULL;

	CHECK_INT(topology_driver(&t, address, &d), 0);
	snprintf(buf, sizeof(buf), "%s", d ? d : "");
	return buf;
}

const char *rig_override(const struct engine_rig *r, const char *address)
{
	static char buf[64];
	struct topology t = { .sysfs_root = r->f.sys, .proc_root = r->f.proc };
	_cleanup_free_ char *v = NULL;
	char rel[96];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/driver_override", address);
	CHECK_INT(topology_read_attr(&t, rel, &v), 0);
	snprintf(buf, sizeof(buf), "%s", v);
	return buf;
}

const char *rig_log_lines(const struct engine_rig *r, const char *needle)
{
	static char buf[4096];
	_cleanup_free_ char *copy = strdup(fk_log(r->k));
	char *save = NULL;

	CHECK(copy);
	buf[0] = '\0';
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strstr(l, needle))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? "|" : "", l);
	return buf;
}
