/* hookctl import: turn what users of shell hooks already have into a VM's INI file.
 *   kvm.conf:        VIRSH_GPU_VIDEO=pci_0000_0a_00_0   -> [device.gpu-video] address = 0000:0a:00.0
 *   modprobe.d:      options vfio-pci ids=1002:731f,...  -> [device.id-1002-731f] match = 1002:731f
 * Anything else is ignored with a note naming the line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "vmfile.h"

/* Imports larger than a VM file are not configuration files. */
#define IMPORT_MAX HOOKD_VM_CONFIG_MAX

struct import {
	const char *label;  /* the file name, for notes and comments */
	FILE *out;          /* memstream with the sections made so far */
	char **seen;        /* addresses and ids already taken, to skip repeats */
	size_t n_seen;
	unsigned n_devices;
};

static bool seen_before(struct import *im, const char *what)
{
	char **grown;

	for (size_t i = 0; i < im->n_seen; i++)
		if (streq(im->seen[i], what))
			return true;
	grown = realloc(im->seen, (im->n_seen + 1) * sizeof(*grown));
	if (!grown)
		return false;
	im->seen = grown;
	im->seen[im->n_seen] = strdup(what);
	if (im->seen[im->n_seen])
		im->n_seen++;
	return false;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* "pci_0000_0a_00_0" (libvirt's node device name) -> "0000:0a:00.0". */
static int nodedev_to_address(const char *s, char out[static 13])
{
	unsigned domain, bus, slot, func;
	char in[32];
	int n = -1;

	if (sscanf(s, "pci_%4x_%2x_%2x_%1x%n", &domain, &bus, &slot, &func, &n) != 4 || n != (int)strlen(s) ||
	    strlen(s) != 16 || slot > 0x1f || func > 7)
		return -EINVAL;
	snprintf(in, sizeof(in), "%04x:%02x:%02x.%x", domain, bus, slot, func);
	return pci_address_canonical(in, out);
}

/* VIRSH_GPU_VIDEO -> gpu-video */
static char *device_name_from_variable(const char *var)
{
	char *name;

	if (startswith(var, "VIRSH_") && var[6])
		var += 6;
	name = strdup(var);
	if (!name)
		return NULL;
	for (char *p = name; *p; p++)
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	return name;
}

static bool import_assignment(struct import *im, unsigned line, const char *orig)
{
	_cleanup_free_ char *name = NULL, *copy = strdup(orig);
	char *s = copy, *eq, *value;
	char address[13];
	size_t len;

	if (!s)
		return false;
	eq = strchr(s, '=');
	if (!eq)
		return false;
	*eq = '\0';
	value = trim(eq + 1);
	/* Shell quoting around the value: "pci_..." or 'pci_...'. */
	len = strlen(value);
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		value[len - 1] = '\0';
		value++;
	}
	if (startswith(s, "export "))
		s = trim(s + 7);
	if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(s) ||
	    nodedev_to_address(value, address) < 0)
		return false;
	if (seen_before(im, address)) {
		hookctl_note("%s:%u: %s is already imported; skipped.", im->label, line, address);
		return true;
	}
	name = device_name_from_variable(s);
	if (!name)
		return false;
	fprintf(im->out, "\n[device.%s]\n# from %s in %s, line %u\naddress = %s\n", name, s, im->label, line,
		address);
	im->n_devices++;
	return true;
}

/* "options vfio-pci ids=1002:731f,1002:ab38 disable_vga=1" */
static bool import_modprobe_options(struct import *im, unsigned line, const char *orig)
{
	_cleanup_free_ char *copy = strdup(orig);
	char *s = copy, *save = NULL, *word;
	bool any = false;

	if (!s)
		return false;

	word = strtok_r(s, " \t", &save);
	if (!word || !streq(word, "options"))
		return false;
	word = strtok_r(NULL, " \t", &save);
	if (!word || !(streq(word, "vfio-pci") || streq(word, "vfio_pci")))
		return false;
	while ((word = strtok_r(NULL, " \t", &save))) {
		char *id_save = NULL, *id;

		if (!startswith(word, "ids="))
			continue;
		for (id = strtok_r(word + 4, ",", &id_save); id; id = strtok_r(NULL, ",", &id_save)) {
			unsigned vendor, device;
			char canon[10];
			int n = -1;

			if (sscanf(id, "%4x:%4x%n", &vendor, &device, &n) != 2 || n != 9 || id[n]) {
				hookctl_note("%s:%u: '%s' is not a vendor:device id; skipped.", im->label, line, id);
				continue;
			}
			snprintf(canon, sizeof(canon), "%04x:%04x", vendor, device);
			if (seen_before(im, canon)) {
				hookctl_note("%s:%u: %s is already imported; skipped.", im->label, line, canon);
				continue;
			}
			fprintf(im->out,
				"\n[device.id-%04x-%04x]\n# from 'options vfio-pci ids=' in %s, line %u\n"
				"match = %s\n",
				vendor, device, im->label, line, canon);
			im->n_devices++;
			any = true;
		}
	}
	return any;
}

static int import_text(struct import *im, char *text)
{
	char *save = NULL;
	unsigned line = 0;

	for (char *p = text; p; p = save) {
		char *s, *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		save = nl ? nl + 1 : NULL;
		line++;
		s = trim(p);
		if (!*s || *s == '#')
			continue;
		if (import_assignment(im, line, s))
			continue;
		if (import_modprobe_options(im, line, s))
			continue;
		hookctl_note("%s:%u: ignored (not a VIRSH_*=pci_* line or 'options vfio-pci ids=').", im->label, line);
	}
	return 0;
}

int cmd_import(struct hookctl *ctx, int argc, char **argv)
{
	_cleanup_free_ char *input = NULL, *body = NULL, *result = NULL, *path = NULL;
	const char *file = argv[0], *vm = argv[1];
	const char *slash = strrchr(file, '/');
	/* The base name only: comments in the file should not depend on where the input lay. */
	struct import im = { .label = streq(file, "-") ? "stdin" : slash ? slash + 1 : file };
	struct diag diag = { 0 };
	size_t body_len = 0;
	int r;

	if (argc == 3) {
		if (!streq(argv[2], "-")) {
			hookctl_error("usage: hookctl import FILE VM [-]");
			return -EINVAL;
		}
		ctx->to_stdout = true;
	}
	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	r = hookctl_read_file(file, IMPORT_MAX, &input);
	if (r < 0) {
		hookctl_error("cannot read %s: %s", file, r == -EBADMSG ? "not a text file" : strerror(-r));
		return r;
	}

	im.out = open_memstream(&body, &body_len);
	if (!im.out)
		return -ENOMEM;
	r = import_text(&im, input);
	fclose(im.out);
	for (size_t i = 0; i < im.n_seen; i++)
		free(im.seen[i]);
	free(im.seen);
	if (r < 0)
		return r;
	if (im.n_devices == 0) {
		hookctl_error("%s: nothing to import: expected VIRSH_NAME=pci_0000_0a_00_0 lines (kvm.conf) or "
			      "'options vfio-pci ids=VENDOR:DEVICE,...' (modprobe.d).",
			      im.label);
		return -EINVAL;
	}
	if (asprintf(&result, "# hookd configuration for VM '%s', imported from %s by hookctl import.\n%s", vm,
		     im.label, body) < 0)
		return -ENOMEM;

	if (!ctx->to_stdout)
		return vmfile_commit(ctx, vm, result, ctx->force);
	r = vmfile_validate(vm, result, &diag);
	if (r < 0) {
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		hookctl_error("the imported configuration is not valid.");
		return r;
	}
	fputs(result, stdout);
	return 0;
}
