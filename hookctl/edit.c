/* The configuration commands: cat, get, set, unset (for scripts) and edit (for people). Every change is
 * validated by the daemon's own parser before it is installed; an invalid result writes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ini-editor.h"
#include "util.h"
#include "vmfile.h"

/* What a new VM's file starts as in `hookctl edit`. Everything is commented out, so saving it unchanged is
 * "no changes". */
static const char new_vm_template[] =
	"# hookd configuration for VM '%s': see hookd.vm.ini(5).\n"
	"# Uncomment and adjust; the file is checked when you save it.\n"
	"\n"
	"#[vm]\n"
	"# Kernel modules to unload before the devices move (in this order) and load back after:\n"
	"#unload-modules = nvidia_drm nvidia_modeset nvidia_uvm nvidia\n"
	"# The boot GPU: let hookd release the virtual consoles and the firmware framebuffer.\n"
	"#release-console = no\n"
	"# Also take every <hostdev> PCI device of the domain XML.\n"
	"#devices-from-xml = no\n"
	"# Hugepages for the guest, sized from the domain XML's <memoryBacking><hugepages> (or a page count):\n"
	"#hugepages = auto\n"
	"\n"
	"# One section per device. 'hookctl iommu' lists the addresses and groups.\n"
	"#[device.gpu]\n"
	"#address = 0000:0a:00.0\n"
	"# or by vendor:device id instead of an address:\n"
	"#match = 10de:1e07\n"
	"# take every other endpoint of its IOMMU group too:\n"
	"#whole-group = yes\n"
	"\n"
	"#[device.gpu-audio]\n"
	"#address = 0000:0a:00.1\n";

static int read_existing(const struct hookctl *ctx, const char *vm, char **ret)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	r = vmfile_read(ctx, vm, ret);
	if (r == -ENOENT)
		hookctl_error("VM '%s' has no configuration (%s). 'hookctl init %s' or 'hookctl edit %s' makes one.",
			      vm, path, vm, vm);
	else if (r < 0)
		hookctl_error("cannot read %s: %s", path, strerror(-r));
	return r;
}

int cmd_cat(struct hookctl *ctx, int argc, char **argv)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_existing(ctx, argv[0], &text);
	if (r < 0)
		return r;
	fputs(text, stdout);
	return 0;
}

int cmd_get(struct hookctl *ctx, int argc, char **argv)
{
	_cleanup_free_ char *text = NULL, *section = NULL, *name = NULL, *value = NULL;
	struct ini_text t = { 0 };
	const char *why;
	int r;

	if (ini_text_split_key(argv[1], &section, &name, &why) < 0) {
		hookctl_error("invalid key '%s': %s.", argv[1], why);
		return -EINVAL;
	}
	r = read_existing(ctx, argv[0], &text);
	if (r < 0)
		return r;
	r = ini_text_parse(text, &t);
	if (r < 0)
		return r;
	r = ini_text_get(&t, section, name, &value);
	ini_text_clear(&t);
	if (r == -ENOENT) {
		/* Like git config: unset is exit status 1 with nothing on stdout, quietly for scripts. */
		return HOOKCTL_EXIT_FAILURE;
	}
	if (r < 0)
		return r;
	printf("%s\n", value);
	return 0;
}

/* Apply one set/unset to VM's text and commit the result. value NULL means unset. */
static int change_key(struct hookctl *ctx, const char *vm, const char *key, const char *value)
{
	_cleanup_free_ char *text = NULL, *section = NULL, *name = NULL, *result = NULL, *path = NULL;
	struct ini_text t = { 0 };
	const char *why;
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	if (ini_text_split_key(key, &section, &name, &why) < 0) {
		hookctl_error("invalid key '%s': %s.", key, why);
		return -EINVAL;
	}
	if (value && ini_text_check_value(value, &why) < 0) {
		hookctl_error("invalid value for %s: %s.", key, why);
		return -EINVAL;
	}
	r = vmfile_read(ctx, vm, &text);
	if (r == -ENOENT && value)
		text = strdup(""); /* set on a new VM starts its file */
	else if (r < 0)
		return read_existing(ctx, vm, &text);
	if (!text)
		return -ENOMEM;

	r = ini_text_parse(text, &t);
	if (r < 0)
		return r;
	if (value)
		r = ini_text_set(&t, section, name, value);
	else {
		r = ini_text_unset(&t, section, name);
		if (r == -ENOENT) {
			/* "device.gpu" names a whole section when no such key exists. */
			r = ini_text_remove_section(&t, key);
		}
		if (r == -ENOENT)
			hookctl_error("%s has no key or section '%s'; nothing written.", path, key);
	}
	if (r >= 0) {
		result = ini_text_join(&t);
		if (!result)
			r = -ENOMEM;
	}
	ini_text_clear(&t);
	if (r < 0)
		return r;
	if (streq(result, text)) {
		hookctl_note("No changes.");
		return 0;
	}
	return vmfile_commit(ctx, vm, result, true);
}

int cmd_set(struct hookctl *ctx, int argc, char **argv)
{
	return change_key(ctx, argv[0], argv[1], argv[2]);
}

int cmd_unset(struct hookctl *ctx, int argc, char **argv)
{
	return change_key(ctx, argv[0], argv[1], NULL);
}

/* Run the user's editor on path, the way git does: through the shell, so EDITOR may carry arguments. */
static int run_editor(const char *path)
{
	const char *editor = getenv("VISUAL");
	_cleanup_free_ char *script = NULL;
	int status;
	pid_t pid;

	if (!editor || !*editor)
		editor = getenv("EDITOR");
	if (!editor || !*editor)
		editor = "vi";
	if (asprintf(&script, "%s \"$@\"", editor) < 0)
		return -ENOMEM;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", script, editor, path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		hookctl_error("the editor (%s) failed; nothing written.", editor);
		return -ECANCELED;
	}
	return 0;
}

/* Ask on the terminal; true for yes (the default). Without a terminal there is nobody to ask: -ENOTTY. */
static int ask_edit_again(void)
{
	_cleanup_fclose_ FILE *tty = fopen("/dev/tty", "r+e");
	char answer[64];

	if (!tty)
		return -ENOTTY;
	fputs("Edit again? [Y/n] ", tty);
	fflush(tty);
	if (!fgets(answer, sizeof(answer), tty))
		return 0;
	return answer[0] == '\n' || answer[0] == 'y' || answer[0] == 'Y';
}

static int write_file(const char *path, const char *text)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (fputs(text, f) < 0 || fflush(f) != 0)
		return negative_errno();
	return 0;
}

int cmd_edit(struct hookctl *ctx, int argc, char **argv)
{
	_cleanup_free_ char *original = NULL, *tmp = NULL, *edited = NULL;
	const char *vm = argv[0];
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_close_ int fd = -1;
	int r;

	r = vmfile_read(ctx, vm, &original);
	if (r == -ENOENT) {
		if (asprintf(&original, new_vm_template, vm) < 0)
			return -ENOMEM;
	} else if (r < 0) {
		return read_existing(ctx, vm, &original);
	}

	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	if (asprintf(&tmp, "%s/hookctl-%s-XXXXXX.ini", tmpdir, vm) < 0)
		return -ENOMEM;
	fd = mkostemps(tmp, 4, O_CLOEXEC);
	if (fd < 0) {
		hookctl_error("cannot create a temporary file in %s: %s", tmpdir, strerror(errno));
		return -errno;
	}
	r = write_file(tmp, original);
	for (;;) {
		struct diag diag = { 0 };

		if (r >= 0)
			r = run_editor(tmp);
		if (r >= 0) {
			free(edited);
			edited = NULL;
			r = hookctl_read_file(tmp, HOOKD_VM_CONFIG_MAX, &edited);
			if (r < 0)
				hookctl_error("cannot read back %s: %s", tmp, hookctl_read_error(r));
		}
		if (r < 0)
			break;
		if (streq(edited, original)) {
			hookctl_note("No changes.");
			break;
		}
		r = vmfile_validate(vm, edited, &diag);
		if (r >= 0) {
			r = vmfile_commit(ctx, vm, edited, true);
			break;
		}
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		r = ask_edit_again();
		if (r == -ENOTTY) {
			hookctl_error("no terminal to ask whether to edit again; nothing written.");
			break;
		}
		if (r == 0) {
			hookctl_note("Nothing written.");
			r = -ECANCELED;
			break;
		}
		r = 0;
	}
	unlink(tmp);
	return r;
}
