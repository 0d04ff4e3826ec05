/* hookctl import: turn what users of shell hooks already have into a VM's INI file.
 *   kvm.conf:        VIRSH_GPU_VIDEO=pci_0000_0a_00_0   -> [device.gpu-video] address = 0000:0a:00.0
 *   modprobe.d:      options vfio-pci ids=1002:731f,...  -> [device.id-1002-731f] match = 1002:731f
 * The conversion is hookctl/import-convert.c. Here: read only a regular file or standard input, print a
 * note for each line left out, and fail (after writing what could be converted) when a line that names a
 * device was lost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "import-convert.h"
#include "util.h"
#include "vmfile.h"

/* Imports larger than a VM file are not configuration files. */
#define IMPORT_MAX HOOKD_VM_CONFIG_MAX

static int import_output(const char *vm, const char *label, const struct import_result *res, char **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return -ENOMEM;
	fprintf(f, "# hookd configuration for VM '%s', imported from %s by hookctl import.\n", vm, label);
	/* What was lost stays in front of the user, in the file itself. */
	for (size_t i = 0; i < res->lost.n; i++)
		fprintf(f, "# %.180s\n", res->lost.lines[i]); /* under the INI line limit */
	fputs(res->body, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	*ret = TAKE_PTR(text);
	return 0;
}

int cmd_import(struct hookctl *ctx, int argc, char **argv)
{
	_cleanup_free_ char *input = NULL, *result = NULL, *path = NULL;
	const char *file = argv[0], *vm = argv[1];
	const char *slash = strrchr(file, '/');
	/* The base name only: comments in the file should not depend on where the input lay. */
	const char *label = streq(file, "-") ? "stdin" : slash ? slash + 1 : file;
	struct import_result res = { 0 };
	struct diag diag = { 0 };
	size_t len = 0;
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
	r = hookctl_read_regular(file, IMPORT_MAX, &input, &len);
	if (r < 0) {
		hookctl_error("cannot read %s: %s", file, hookctl_read_error(r));
		return r;
	}
	r = import_convert(label, input, len, &res);
	if (r < 0) {
		hookctl_error("cannot import %s: %s", file, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < res.notes.n; i++)
		hookctl_note("%s", res.notes.lines[i]);

	if (res.n_devices == 0) {
		hookctl_error("%s: nothing to import: expected VIRSH_NAME=pci_0000_0a_00_0 lines (kvm.conf) or "
			      "'options vfio-pci ids=VENDOR:DEVICE,...' (modprobe.d).",
			      label);
		import_result_done(&res);
		return -EINVAL;
	}
	r = import_output(vm, label, &res, &result);
	if (r < 0) {
		import_result_done(&res);
		return r;
	}
	if (!ctx->to_stdout) {
		r = vmfile_commit(ctx, vm, result, ctx->force);
	} else {
		r = vmfile_validate(vm, result, &diag);
		if (r < 0) {
			vmfile_print_diag(&diag);
			diag_clear(&diag);
			hookctl_error("the imported configuration is not valid.");
		} else {
			fputs(result, stdout);
		}
	}
	if (r >= 0 && res.lost.n > 0) {
		hookctl_error("%zu line%s of %s could not be converted (listed above, and as comments in "
			      "the result): add %s by hand.",
			      res.lost.n, res.lost.n == 1 ? "" : "s", label,
			      res.lost.n == 1 ? "that device" : "those devices");
		r = -EINVAL;
	}
	import_result_done(&res);
	return r;
}
