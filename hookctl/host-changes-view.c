/* hookctl's one rendering of host changes (host-changes-view.h). A kind's helper adds its label to the
 * table; everything else is shared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-changes-view.h"
#include "output.h"
#include "util.h"

/* What each kind does to its target, in the user's words; a kind not listed shows its own name. A kind that
 * takes CPUs away wants the CPUs it takes, not the value it writes: "unset -> without CPUs 2-3". */
static const struct {
	const char *kind;
	const char *label;
	bool takes_cpus;
	bool adds_count; /* wanted and applied are pages added to the host's own, not a value that replaces it */
} labels[] = {
	{ .kind = "hugepages", .label = "hugepages", .adds_count = true },
	{ .kind = "cpu-governor", .label = "CPU governor of", .takes_cpus = false },
	{ .kind = "cpu-epp", .label = "energy performance preference of", .takes_cpus = false },
	{ .kind = "allowed-cpus", .label = "AllowedCPUs of", .takes_cpus = true },
	{ .kind = "workqueue-cpumask", .label = "unbound workqueues' cpumask,", .takes_cpus = true },
	{ .kind = "irq-affinity", .label = "affinity of IRQ", .takes_cpus = false },
};

static const char *label_of(const char *kind, bool *ret_takes_cpus, bool *ret_adds_count)
{
	*ret_takes_cpus = *ret_adds_count = false;
	for (size_t i = 0; i < ELEMENTSOF(labels); i++)
		if (streq(labels[i].kind, kind)) {
			*ret_takes_cpus = labels[i].takes_cpus;
			*ret_adds_count = labels[i].adds_count;
			return labels[i].label;
		}
	return kind;
}

/* A value as the user reads it: an empty one is a setting that is not set (AllowedCPUs: every CPU). */
static const char *value_text(const char *v, const char *missing)
{
	return !v ? missing : *v ? v : "unset";
}

/* "8 -> 72 (64 for this VM)": the pool as it will be, not the VM's pages alone as if they replaced the host's. */
static void print_planned_count(const char *now, const char *wanted)
{
	unsigned long long n = 0, w = 0;
	char *end = NULL;
	bool ok = now && wanted;

	errno = 0;
	if (ok)
		n = strtoull(now, &end, 10), ok = *now && !*end;
	if (ok)
		w = strtoull(wanted, &end, 10), ok = *wanted && !*end && errno == 0;
	if (ok)
		printf("%s -> %llu (%s for this VM)", now, n + w, wanted);
	else
		printf("%s -> %s more", value_text(now, "(cannot be read)"), value_text(wanted, "?"));
}

/* ", shared with VM a, b" or "". */
static void print_shared(json_object *c, const char *how)
{
	json_object *with = NULL;

	if (!json_object_object_get_ex(c, "shared_with", &with) || !with || json_object_array_length(with) == 0)
		return;
	printf(", %s VM", how);
	for (size_t i = 0; i < json_object_array_length(with); i++)
		printf("%s %s", i ? "," : "", json_object_get_string(json_object_array_get_idx(with, i)));
}

/* The freeing kinds (issue 12's stop-units, end-sessions, inhibit-sleep and the wait for holders) are steps,
 * not values a setting had: each says in words what was done, or will be. False for any other kind. */
static bool print_freeing(const char *kind, const char *target, const char *wanted, const char *before,
			  const char *applied, const char *now, enum host_changes_view view)
{
	bool planned = view == HOST_CHANGES_PLANNED;

	if (streq_ptr(kind, "unit-stopped")) {
		if (planned)
			printf("stop %s (now %s)", target, value_text(now, "(cannot be read)"));
		else if (streq_ptr(applied, "not-running"))
			printf("%s was not running (%s): not stopped, not started afterwards", target,
			       value_text(before, "?"));
		else
			printf("stopped %s (it was %s)", target, value_text(before, "?"));
	} else if (streq_ptr(kind, "session-ended")) {
		if (planned)
			printf("end the graphical sessions on %s (now: %s)", target,
			       !now   ? "(cannot be read)"
			       : *now ? now
				      : "none");
		else if (applied && *applied)
			printf("ended the graphical sessions on %s (sessions %s)", target, applied);
		else
			printf("no graphical session on %s to end", target);
	} else if (streq_ptr(kind, "sleep-inhibited")) {
		printf(planned ? "take a sleep inhibitor while the VM runs" : "sleep inhibitor held");
	} else if (streq_ptr(kind, "holders-gone")) {
		unsigned long ms = wanted ? strtoul(wanted, NULL, 10) : 0;

		if (planned)
			printf("wait up to %g s for the holders of %s to go", ms / 1000.0, target);
		else
			printf("the holders of %s: %s", target, value_text(applied, "being waited for"));
	} else
		return false;
	return true;
}

void host_changes_print(const struct hookctl *ctx, json_object *changes, enum host_changes_view view)
{
	size_t n = changes && json_object_is_type(changes, json_type_array) ? json_object_array_length(changes) : 0;
	bool heading = false;

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(changes, i);
		const char *step = json_get_str(c, "step"), *wanted = json_get_str(c, "wanted");
		const char *before = json_get_str(c, "before"), *now = json_get_str(c, "now");
		const char *applied = json_get_str(c, "applied"), *in_effect = json_get_str(c, "in_effect"), *label;
		bool takes_cpus, adds_count;

		/* Status shows what the VM holds: changes given back (or never made) are not the host's news. */
		if (view == HOST_CHANGES_HELD && !streq_ptr(step, "applying") && !streq_ptr(step, "applied"))
			continue;
		if (!heading) {
			printf("  %s\n", view == HOST_CHANGES_PLANNED ? "host changes (made first, undone last):"
								      : "host changes:");
			heading = true;
		}
		printf("    ");
		if (print_freeing(json_get_str(c, "kind"), json_get_str(c, "target"), wanted, before, applied, now,
				  view)) {
			if (view == HOST_CHANGES_HELD && streq_ptr(step, "applying"))
				printf(", %sbeing applied%s", color(ctx, COLOR_YELLOW), color(ctx, COLOR_RESET));
			print_shared(c, view == HOST_CHANGES_PLANNED ? "already done so by" : "shared with");
			putchar('\n');
			continue;
		}
		label = label_of(json_get_str(c, "kind"), &takes_cpus, &adds_count);
		printf("%s %s: ", label, json_get_str(c, "target"));
		if (view == HOST_CHANGES_PLANNED && adds_count) {
			print_planned_count(now, wanted);
			print_shared(c, "already set so by");
		} else if (view == HOST_CHANGES_PLANNED) {
			const char *how = takes_cpus ? "without CPUs " : "";

			/* steer-irqs' "on:CPUS" and "off:CPUS" (host-irqs.h) */
			if (wanted && startswith(wanted, "on:"))
				how = "onto CPUs ", wanted += strlen("on:");
			else if (wanted && startswith(wanted, "off:"))
				how = "without CPUs ", wanted += strlen("off:");
			printf("%s -> %s%s", value_text(now, "(cannot be read)"), how, value_text(wanted, "?"));
			print_shared(c, "already set so by");
		} else {
			/* Shared: what every holder together has the host hold, not what this VM wrote when it came. */
			printf("%s%s (the host's: %s)",
			       value_text(in_effect ? in_effect
					  : applied ? applied
						    : wanted,
					  "?"),
			       adds_count ? " added for this VM" : "", value_text(before, "?"));
			if (streq_ptr(step, "applying"))
				printf(", %sbeing applied%s", color(ctx, COLOR_YELLOW), color(ctx, COLOR_RESET));
			print_shared(c, "shared with");
		}
		putchar('\n');
	}
}
