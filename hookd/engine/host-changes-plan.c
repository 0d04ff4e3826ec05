/* From a VM's keys to checked host changes in its plan: one planner per feature, then each change's reader
 * checks it, so a refusal comes before anything is written (host-changes.h). The read side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-changes.h"
#include "host-governor.h"
#include "host-cpus.h"
#include "host-freeing.h"
#include "host-irqs.h"
#include "util.h"

static bool one_line(const char *s)
{
	if (strlen(s) > HOST_CHANGE_TEXT_MAX)
		return false;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

int plan_add_host_change(struct plan *p, enum host_change_kind kind, const char *target, const char *wanted)
{
	struct plan_host_change *v, *c;

	if (!host_change_kind_to_string(kind) || !host_change_target_valid(kind, target) || !wanted ||
	    !one_line(wanted))
		return -EINVAL;
	for (size_t i = 0; i < p->n_host_changes; i++)
		if (p->host_changes[i].kind == kind && streq(p->host_changes[i].target, target))
			return -EEXIST;
	if (p->n_host_changes >= HOST_CHANGES_MAX)
		return -E2BIG;
	v = realloc(p->host_changes, (p->n_host_changes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->host_changes = v;
	c = &v[p->n_host_changes];
	*c = (struct plan_host_change){ .kind = kind, .step = HOST_CHANGE_PLANNED };
	c->target = strdup(target);
	c->wanted = strdup(wanted);
	if (!c->target || !c->wanted) {
		plan_host_change_clear(c);
		return -ENOMEM;
	}
	p->n_host_changes++;
	return 0;
}

/* A shared change other VMs hold: whether this VM's wanted value combines with theirs (one governor per CPU). */
static int check_holds(struct host_context *ctx, const struct host_change_reader *reader,
		       const struct plan_host_change *c, char **ret_why)
{
	_cleanup_(host_change_holds_clear) struct host_change_holds holds = { 0 };
	_cleanup_free_ char *value = NULL, *why = NULL;
	int r;

	r = host_change_holds_read(ctx->run_dir, ctx->vm, c->kind, c->target, &holds);
	if (r < 0 || !holds.vms[0])
		return r;
	r = host_change_combined(reader, holds.before, &holds, c->wanted, &value, &why);
	if (r != -EBUSY)
		return r;
	/* The holders agree among themselves (each was combined when it came): the first one speaks for all. */
	if (asprintf(ret_why, "%s (VM %s holds it)", why ? why : "it conflicts with another VM's", holds.vms[0]) < 0)
		*ret_why = NULL;
	return r;
}

int host_changes_check(struct host_context *ctx, const struct plan *p, struct diag *diag)
{
	for (size_t i = 0; i < p->n_host_changes; i++) {
		const struct plan_host_change *c = &p->host_changes[i];
		const struct host_change_reader *reader = host_change_reader_for(c->kind);
		const char *kind = host_change_kind_to_string(c->kind);
		_cleanup_free_ char *why = NULL;
		int r;

		if (!reader) {
			diag_add(diag, "VM %s: %s %s: this hookd cannot make that change", p->vm, kind, c->target);
			continue;
		}
		r = reader->check(ctx, c, &why);
		if (r >= 0 && reader->shared)
			r = check_holds(ctx, reader, c, &why);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			diag_add(diag, "VM %s: %s %s: %s", p->vm, kind, c->target, why ? why : strerror(-r));
	}
	return 0;
}

int host_changes_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		      struct diag *diag)
{
	int r = 0;

	/* One call per feature, in the order prepare applies them (release undoes them in reverse): the sleep
	 * inhibitor, units stopped, sessions ended, the wait for holders, hugepages, the host's CPUs, the
	 * governor and EPP, interrupts. Each helper adds its own call here. */
	/* The sleep inhibitor first (taken before anything else changes, given back last), then freeing. */
	if (r >= 0)
		r = host_inhibit_plan(ctx, vm, p, diag);
	if (r >= 0)
		r = host_units_plan(ctx, vm, p, diag);
	if (r >= 0)
		r = host_sessions_plan(ctx, vm, p, diag);
	if (r >= 0)
		r = host_holders_gone_plan(ctx, vm, p, diag);
	/* Hugepages before the CPUs: the reservation is the step most likely to fall short, so its refusal or
	 * failure has nothing else to undo, and the pages are given back last. */
	if (r >= 0)
		r = hugepages_plan(ctx, vm, domain_xml, p, diag);
	if (r >= 0)
		r = host_cpus_plan(ctx, vm, domain_xml, p, diag);
	if (r >= 0)
		r = host_plan_cpu_governor(ctx, vm, domain_xml, p, diag);
	if (r >= 0)
		r = host_irqs_plan(ctx, vm, domain_xml, p, diag);
	if (r >= 0)
		r = host_changes_check(ctx, p, diag);
	return r;
}
