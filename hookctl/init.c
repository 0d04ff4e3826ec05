/* hookctl init: a VM's file from its domain XML. Every <hostdev> PCI device becomes a [device.*] section, and
 * so does every other endpoint of its IOMMU group (VFIO needs the whole group), each with a comment saying
 * where it came from. A group member that is not part of the hostdev's card and that the host uses (the
 * engine's host_loses()) is written commented out, with what the host would lose, for the user to confirm.
 * When the boot GPU is taken with the framebuffer console bound to it, release-console = yes is written too:
 * hookctl check (and prepare) refuse that GPU without it, and what init writes must pass check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "config.h"
#include "domxml.h"
#include "output.h"
#include "topology.h"
#include "util.h"
#include "virt.h"
#include "vmfile.h"

struct init_device {
	char address[13];
	char name[40];
	char comment[160];
	char *host_use; /* what the host loses with it; the section is then written commented out */
	bool boot_vga;
};

struct init_list {
	struct init_device *items;
	size_t n;
};

static bool listed(const struct init_list *l, const char *address)
{
	for (size_t i = 0; i < l->n; i++)
		if (streq(l->items[i].address, address))
			return true;
	return false;
}

/* A readable section name from the device's class, made unique: gpu, gpu-audio, nvme, nvme-2, ... */
static void name_device(const struct init_list *l, const struct pci_function *f, bool present, char out[40])
{
	const char *base = "pci";
	unsigned cls = present ? f->class >> 8 : 0;

	if (cls == 0x0300 || cls == 0x0302 || cls == 0x0380)
		base = "gpu";
	else if (cls == 0x0401 || cls == 0x0403)
		base = "audio";
	else if (cls == 0x0108)
		base = "nvme";
	else if (cls == 0x0c03)
		base = "usb";
	else if (cls == 0x0200 || cls == 0x0280)
		base = "nic";
	else if (cls == 0x0106)
		base = "sata";
	else if (cls == 0x0c80)
		base = "serial";
	for (unsigned k = 1;; k++) {
		bool taken = false;

		if (k == 1)
			snprintf(out, 40, "%s", base);
		else
			snprintf(out, 40, "%s-%u", base, k);
		for (size_t i = 0; i < l->n; i++)
			taken |= streq(l->items[i].name, out);
		if (!taken)
			return;
	}
}

static int add_device(struct init_list *l, const struct topology *t, const char *address, const char *why)
{
	struct init_device *grown, *d;
	struct pci_function f = { 0 };
	bool present = topology_function(t, address, &f) >= 0;

	grown = realloc(l->items, (l->n + 1) * sizeof(*grown));
	if (!grown) {
		pci_function_clear(&f);
		return -ENOMEM;
	}
	l->items = grown;
	d = &l->items[l->n];
	*d = (struct init_device){ 0 };
	snprintf(d->address, sizeof(d->address), "%s", address);
	name_device(l, &f, present, d->name);
	d->boot_vga = present && f.boot_vga;
	snprintf(d->comment, sizeof(d->comment), "%s", why);
	if (present) {
		const char *cls = pci_class_name(f.class);
		size_t len = strlen(d->comment);

		snprintf(d->comment + len, sizeof(d->comment) - len, "; %s %04x:%04x, now on %s", cls ? cls : "PCI",
			 f.vendor, f.device, f.driver ? f.driver : "no driver");
	} else {
		size_t len = strlen(d->comment);

		snprintf(d->comment + len, sizeof(d->comment) - len, "; not present on this host");
	}
	pci_function_clear(&f);
	l->n++;
	return 0;
}

static int domain_xml(const struct hookctl *ctx, const char *vm, char **ret)
{
	_cleanup_virt_ virConnectPtr conn = NULL;
	_cleanup_free_ char *err = NULL;
	int r;

	if (ctx->xml_file) {
		r = hookctl_read_file(ctx->xml_file, 16u * 1024u * 1024u, ret);
		if (r < 0)
			hookctl_error("cannot read %s: %s", ctx->xml_file, hookctl_read_error(r));
		return r;
	}
	r = virt_open(ctx->connect_uri, &conn, &err);
	if (r < 0) {
		hookctl_error("cannot reach libvirt at %s: %s (--xml FILE reads a saved domain XML instead)",
			      ctx->connect_uri, err);
		return r;
	}
	r = virt_domain_xml(conn, vm, ret);
	if (r == -ENOENT)
		hookctl_error("libvirt at %s has no domain '%s'.", ctx->connect_uri, vm);
	else if (r < 0)
		hookctl_error("cannot read the XML of domain '%s' from %s.", vm, ctx->connect_uri);
	return r;
}

/* The boot GPU taken (not commented out) while a framebuffer console is bound: that device, else NULL. */
static const struct init_device *console_gpu(const struct init_list *l, char *const *vtcons)
{
	if (!vtcons || !vtcons[0])
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].boot_vga && !l->items[i].host_use)
			return &l->items[i];
	return NULL;
}

static int build_text(const struct hookctl *ctx, const char *vm, const struct init_list *l, char *const *vtcons,
		      char **ret)
{
	const struct init_device *gpu = console_gpu(l, vtcons);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "# hookd configuration for VM '%s', written by hookctl init from %s.\n", vm,
		ctx->xml_file ? "a saved domain XML" : "the domain XML");
	if (gpu)
		fprintf(f,
			"[vm]\n# %s (%s) is the boot GPU and the framebuffer console (%s) is bound to it: hookd "
			"unbinds\n"
			"# the console before the GPU leaves, and binds it again when the VM stops.\n"
			"release-console = yes\n"
			"# Kernel modules to unload first (nvidia: nvidia_drm nvidia_modeset nvidia_uvm nvidia):\n"
			"#unload-modules =\n",
			gpu->address, gpu->name, vtcons[0]);
	else
		fprintf(f, "# Kernel modules to unload first (nvidia: nvidia_drm nvidia_modeset nvidia_uvm nvidia):\n"
			   "#[vm]\n#unload-modules =\n");
	for (size_t i = 0; i < l->n; i++) {
		const struct init_device *d = &l->items[i];

		if (d->host_use)
			fprintf(f,
				"\n# The host uses this group member: %s.\n# VFIO needs the whole group: uncomment "
				"the section to give it to the VM too.\n#[device.%s]\n## %s\n#address = %s\n",
				d->host_use, d->name, d->comment, d->address);
		else
			fprintf(f, "\n[device.%s]\n# %s\naddress = %s\n", d->name, d->comment, d->address);
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}

/* hookd refuses a device the domain also has libvirt manage: say so now, while the user edits. */
static void managed_note(const char *vm, const char *xml)
{
	_cleanup_strv_free_ char **managed = NULL;
	_cleanup_free_ char *error = NULL;

	if (domxml_managed_pci_hostdevs(xml, strlen(xml), &managed, &error) < 0)
		return;
	for (size_t i = 0; managed[i]; i++)
		hookctl_note("the domain's <hostdev> %s is managed='yes': set managed='no' on it (virsh edit %s), or "
			     "hookd refuses to move it",
			     managed[i], vm);
}

int cmd_init(struct hookctl *ctx, int argc, char **argv)
{
	struct topology t = { .sysfs_root = ctx->sysfs_root, .proc_root = ctx->proc_root };
	_cleanup_free_ char *path = NULL, *xml = NULL, *xml_error = NULL, *text = NULL;
	_cleanup_strv_free_ char **hostdevs = NULL, **vtcons = NULL;
	struct init_list l = { 0 };
	const char *vm = argv[0];
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	if (!ctx->to_stdout && !ctx->force && access(path, F_OK) == 0) {
		hookctl_error("%s exists; use --force to overwrite it (or --stdout to see the result).", path);
		return -EEXIST;
	}
	r = domain_xml(ctx, vm, &xml);
	if (r < 0)
		return r == -ENOENT ? HOOKCTL_EXIT_NO_SUCH_VM : r;
	r = domxml_pci_hostdevs(xml, strlen(xml), &hostdevs, &xml_error);
	if (r < 0) {
		hookctl_error("the domain XML of '%s': %s", vm, xml_error ? xml_error : strerror(-r));
		return r;
	}
	if (!hostdevs[0]) {
		hookctl_error("domain '%s' has no <hostdev> PCI devices: nothing to write. Add them to the domain, "
			      "or use 'hookctl edit %s'.",
			      vm, vm);
		return -ENOENT;
	}

	for (size_t i = 0; hostdevs[i] && r >= 0; i++)
		if (!listed(&l, hostdevs[i]))
			r = add_device(&l, &t, hostdevs[i], "from <hostdev> in the domain XML");
	/* The other endpoints of each group, named after the hostdev that brought the group in. */
	for (size_t i = 0, n_hostdevs = l.n; i < n_hostdevs && r >= 0; i++) {
		_cleanup_strv_free_ char **members = NULL;
		struct pci_function f = { 0 };
		char why[96];
		int group;

		if (topology_function(&t, l.items[i].address, &f) < 0)
			continue;
		group = f.iommu_group;
		pci_function_clear(&f);
		snprintf(why, sizeof(why), "same IOMMU group %d as %s", group, l.items[i].name);
		if (group < 0 || topology_group_members(&t, group, &members) < 0)
			continue;
		for (size_t m = 0; members[m] && r >= 0; m++) {
			struct pci_function g = { 0 };
			bool bridge;

			if (listed(&l, members[m]) || topology_function(&t, members[m], &g) < 0)
				continue;
			bridge = pci_class_role(g.class) != PCI_ROLE_ENDPOINT;
			pci_function_clear(&g);
			if (bridge)
				continue;
			r = add_device(&l, &t, members[m], why);
			if (r >= 0 && !same_slot(members[m], l.items[i].address))
				r = host_loses(&t, members[m], &l.items[l.n - 1].host_use);
		}
	}
	if (r >= 0)
		r = topology_bound_fb_vtconsoles(&t, &vtcons);
	if (r >= 0)
		r = build_text(ctx, vm, &l, vtcons, &text);
	for (size_t i = 0; i < l.n; i++)
		free(l.items[i].host_use);
	free(l.items);
	if (r < 0)
		return r;
	managed_note(vm, xml);

	if (!ctx->to_stdout)
		return vmfile_commit(ctx, vm, text, ctx->force);
	struct diag diag = { 0 };
	r = vmfile_validate(vm, text, &diag);
	if (r < 0) {
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		hookctl_error("the generated configuration is not valid.");
		return r;
	}
	fputs(text, stdout);
	return 0;
}
