/* hookctl iommu: every IOMMU group, its devices, who claims them, and whether each claiming VM could take
 * the group as configured: the engine's own group_blockers() decides, so iommu and prepare cannot disagree.
 * Read-only, and nothing here reads an attribute that takes a device's lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "claims.h"
#include "output.h"
#include "util.h"

struct func_entry {
	struct pci_function f;
};

static int cmp_functions(const void *a, const void *b)
{
	const struct pci_function *x = a, *y = b;

	if (x->iommu_group != y->iommu_group)
		return x->iommu_group < y->iommu_group ? -1 : 1;
	return strcmp(x->address, y->address);
}

struct vm_claims_of {
	const struct claims *c;
	const char *vm;
};

/* group_blockers' question: does this VM take ADDRESS? */
static bool vm_takes(const char *address, void *userdata)
{
	const struct vm_claims_of *who = userdata;
	const struct claim *cl;

	for (size_t i = 0; (cl = claims_find(who->c, address, i)); i++)
		if (streq(cl->vm, who->vm))
			return true;
	return false;
}

/* The distinct VMs claiming any of the functions f[0..n), in order of first appearance. */
static size_t group_claimants(const struct claims *c, const struct pci_function *f, size_t n, const char **vms,
			      size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct claim *cl;

		for (size_t j = 0; (cl = claims_find(c, f[i].address, j)); j++) {
			bool dup = false;

			for (size_t m = 0; m < k; m++)
				dup |= streq(vms[m], cl->vm);
			if (!dup && k < max)
				vms[k++] = cl->vm;
		}
	}
	return k;
}

static json_object *function_json(const struct pci_function *f, const struct claims *c)
{
	json_object *o = json_object_new_object(), *by = json_object_new_array();
	const char *name = pci_class_name(f->class);
	const struct claim *cl;
	char buf[16];

	json_object_object_add(o, "address", json_object_new_string(f->address));
	snprintf(buf, sizeof(buf), "0x%06x", f->class);
	json_object_object_add(o, "class", json_object_new_string(buf));
	json_object_object_add(o, "class_name", name ? json_object_new_string(name) : NULL);
	snprintf(buf, sizeof(buf), "%04x:%04x", f->vendor, f->device);
	json_object_object_add(o, "id", json_object_new_string(buf));
	json_object_object_add(o, "driver", f->driver ? json_object_new_string(f->driver) : NULL);
	json_object_object_add(o, "boot_vga", json_object_new_boolean(f->boot_vga));
	json_object_object_add(o, "bridge", json_object_new_boolean(pci_class_role(f->class) != PCI_ROLE_ENDPOINT));
	for (size_t i = 0; (cl = claims_find(c, f->address, i)); i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "vm", json_object_new_string(cl->vm));
		json_object_object_add(x, "device", json_object_new_string(cl->device));
		json_object_array_add(by, x);
	}
	json_object_object_add(o, "claimed_by", by);
	return o;
}

static void print_function(const struct hookctl *ctx, const struct pci_function *f, const struct claims *c)
{
	const char *name = pci_class_name(f->class);
	const struct claim *cl;
	char cls[16], line[512];
	size_t len;

	if (name)
		snprintf(cls, sizeof(cls), "%s", name);
	else
		snprintf(cls, sizeof(cls), "%04x", f->class >> 8);
	len = (size_t)snprintf(line, sizeof(line), "  %s  %-9s %04x:%04x  %-16.16s", f->address, cls, f->vendor,
			       f->device, f->driver ? f->driver : "-");
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	fputs(line, stdout);
	if (f->boot_vga || claims_find(c, f->address, 0))
		printf("%*s", (int)(len < 54 ? 54 - len : 0), "");
	if (f->boot_vga)
		printf(" %sboot-VGA%s", color(ctx, COLOR_YELLOW), color(ctx, COLOR_RESET));
	for (size_t i = 0; (cl = claims_find(c, f->address, i)); i++)
		printf(" %s:%s", cl->vm, cl->device);
	putchar('\n');
}

/* One group: f[0..n). Prints (or adds to groups_json) and returns whether it matters for ctx->vm_filter. */
static void show_group(const struct hookctl *ctx, const struct topology *t, const struct pci_function *f, size_t n,
		       const struct claims *c, json_object *groups_json)
{
	const char *vms[16];
	size_t n_vms = group_claimants(c, f, n, vms, ELEMENTSOF(vms));
	json_object *g = NULL, *verdicts = NULL;

	if (ctx->vm_filter) {
		bool mine = false;

		for (size_t i = 0; i < n_vms; i++)
			mine |= streq(vms[i], ctx->vm_filter);
		if (!mine)
			return;
	}
	if (groups_json) {
		json_object *devices = json_object_new_array();

		g = json_object_new_object();
		verdicts = json_object_new_array();
		json_object_object_add(g, "group", json_object_new_int(f[0].iommu_group));
		for (size_t i = 0; i < n; i++)
			json_object_array_add(devices, function_json(&f[i], c));
		json_object_object_add(g, "devices", devices);
	} else {
		printf("%sIOMMU group %d%s", color(ctx, COLOR_BOLD), f[0].iommu_group, color(ctx, COLOR_RESET));
		if (n_vms == 0)
			printf(": not claimed");
		putchar('\n');
		for (size_t i = 0; i < n; i++)
			print_function(ctx, &f[i], c);
	}

	for (size_t v = 0; v < n_vms; v++) {
		json_object *missing = groups_json ? json_object_new_array() : NULL;
		struct vm_claims_of who = { .c = c, .vm = vms[v] };
		struct pci_function *blockers = NULL;
		size_t n_missing = 0;
		char why[128];

		if (ctx->vm_filter && !streq(vms[v], ctx->vm_filter))
			continue;
		if (group_blockers(t, f[0].iommu_group, vm_takes, &who, &blockers, &n_missing) < 0)
			n_missing = 0;
		for (size_t i = 0; i < n_missing; i++) {
			const struct pci_function *b = &blockers[i];

			if (missing)
				json_object_array_add(missing, json_object_new_string(b->address));
			else if (host_own_reason(b, why))
				printf("    %s%s (%s) is the host's own and bound to the host: the group cannot be "
				       "given away%s\n",
				       color(ctx, COLOR_RED), b->address, b->driver, color(ctx, COLOR_RESET));
			else
				printf("    %s%s (%s) is not claimed by %s but bound to the host%s\n",
				       color(ctx, COLOR_RED), b->address, b->driver, vms[v], color(ctx, COLOR_RESET));
		}
		pci_functions_free(blockers, n_missing);
		if (groups_json) {
			json_object *x = json_object_new_object();

			json_object_object_add(x, "vm", json_object_new_string(vms[v]));
			json_object_object_add(x, "viable", json_object_new_boolean(n_missing == 0));
			json_object_object_add(x, "missing", missing);
			json_object_array_add(verdicts, x);
		} else if (n_missing == 0) {
			printf("    %sviable for %s%s\n", color(ctx, COLOR_GREEN), vms[v], color(ctx, COLOR_RESET));
		} else {
			printf("    %snot viable for %s%s: add the devices above to it or use whole-group = yes\n",
			       color(ctx, COLOR_RED), vms[v], color(ctx, COLOR_RESET));
		}
	}
	if (groups_json) {
		json_object_object_add(g, "vms", verdicts);
		json_object_array_add(groups_json, g);
	}
}

int cmd_iommu(struct hookctl *ctx, int argc, char **argv)
{
	struct topology t = { .sysfs_root = ctx->sysfs_root, .proc_root = ctx->proc_root };
	_cleanup_strv_free_ char **addresses = NULL;
	_cleanup_free_ struct pci_function *f = NULL;
	struct claims c = { 0 };
	json_object *root = NULL, *groups = NULL;
	size_t n = 0;
	int r;

	if (!topology_iommu_enabled(&t)) {
		hookctl_error("no IOMMU groups under %s/kernel/iommu_groups: turn the IOMMU on (intel_iommu=on or "
			      "amd_iommu=on on the kernel command line, VT-d / AMD-Vi in the firmware).",
			      ctx->sysfs_root);
		return -ENODEV;
	}
	r = topology_list_functions(&t, &addresses);
	if (r < 0) {
		hookctl_error("cannot list PCI devices under %s: %s", ctx->sysfs_root, strerror(-r));
		return r;
	}
	r = claims_load(ctx, &t, &c);
	if (r < 0)
		return r;
	if (ctx->vm_filter && !(c.cfg && hookd_config_find_vm(c.cfg, ctx->vm_filter))) {
		for (size_t i = 0; i < c.problems.n; i++)
			fprintf(stderr, "%s\n", c.problems.lines[i]);
		if (c.cfg)
			hookctl_error("VM '%s' has no configuration in %s/vms.", ctx->vm_filter, ctx->conf_dir);
		else
			hookctl_error("the configuration in %s does not load.", ctx->conf_dir);
		claims_clear(&c);
		return HOOKCTL_EXIT_NO_SUCH_VM;
	}

	f = calloc(strv_length(addresses) + 1, sizeof(*f));
	if (!f) {
		claims_clear(&c);
		return -ENOMEM;
	}
	for (size_t i = 0; addresses[i]; i++)
		if (topology_function(&t, addresses[i], &f[n]) >= 0 && f[n].iommu_group >= 0)
			n++;
	qsort(f, n, sizeof(*f), cmp_functions);

	if (ctx->json) {
		root = json_object_new_object();
		groups = json_object_new_array();
	}
	for (size_t start = 0, end; start < n; start = end) {
		for (end = start + 1; end < n && f[end].iommu_group == f[start].iommu_group;)
			end++;
		show_group(ctx, &t, f + start, end - start, &c, groups);
	}
	if (root) {
		json_object *problems = json_object_new_array();

		for (size_t i = 0; i < c.problems.n; i++)
			json_object_array_add(problems, json_object_new_string(c.problems.lines[i]));
		json_object_object_add(root, "groups", groups);
		json_object_object_add(root, "problems", problems);
		print_json(root);
		json_object_put(root);
	} else if (c.problems.n > 0) {
		printf("\nConfiguration problems (claims may be incomplete):\n");
		for (size_t i = 0; i < c.problems.n; i++)
			printf("  %s\n", c.problems.lines[i]);
	}
	for (size_t i = 0; i < n; i++)
		pci_function_clear(&f[i]);
	claims_clear(&c);
	return 0;
}
