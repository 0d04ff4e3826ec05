#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "fileio.h"
#include "util.h"
#include "vmfile.h"
#include "vmname.h"

int vmfile_path(const struct hookctl *ctx, const char *vm, char **ret)
{
	const char *why;

	if (vm_name_validate(vm, &why) < 0) {
		hookctl_error("invalid VM name '%s': %s.", vm, why);
		return -EINVAL;
	}
	if (asprintf(ret, "%s/vms/%s.ini", ctx->conf_dir, vm) < 0)
		return -ENOMEM;
	return 0;
}

int hookctl_read_file(const char *path, size_t max, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	/* Any kind of file: "hookctl init --xml <(virsh dumpxml win10)" reads a pipe. */
	r = streq(path, "-") ? read_full_fd(STDIN_FILENO, max, &buf, &len) : read_full_file(path, max, &buf, &len);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EBADMSG; /* a binary file is not a configuration */
	*ret = TAKE_PTR(buf);
	return 0;
}

int hookctl_read_regular(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (streq(path, "-"))
		return read_full_fd(STDIN_FILENO, max, ret, ret_len);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	return read_full_fd(fd, max, ret, ret_len);
}

const char *hookctl_read_error(int r)
{
	switch (r) {
	case -EBADMSG:
		return "not a text file";
	case -EINVAL:
		return "not a regular file (only files and standard input are read)";
	case -EFBIG:
		return "too large";
	default:
		return strerror(-r);
	}
}

int vmfile_read(const struct hookctl *ctx, const char *vm, char **ret)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	return hookctl_read_file(path, HOOKD_VM_CONFIG_MAX, ret);
}

int vmfile_validate(const char *vm, const char *text, struct diag *diag)
{
	_cleanup_free_ char *label = NULL;
	struct vm_config *c = NULL;
	int r;

	if (strlen(text) > HOOKD_VM_CONFIG_MAX) {
		diag_add(diag, "vms/%s.ini: larger than %u bytes", vm, HOOKD_VM_CONFIG_MAX);
		return -EINVAL;
	}
	if (asprintf(&label, "vms/%s.ini", vm) < 0)
		return -ENOMEM;
	r = vm_config_parse_string(vm, text, label, &c, diag);
	vm_config_free(c);
	if (r < 0 && diag->n == 0)
		diag_add(diag, "%s: %s", label, strerror(-r));
	return r;
}

void vmfile_print_diag(const struct diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		fprintf(stderr, "%s\n", diag->lines[i]);
}

int vmfile_install(const struct hookctl *ctx, const char *vm, const char *text, bool replace)
{
	_cleanup_free_ char *dir = NULL, *path = NULL, *name = NULL;
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	if (asprintf(&dir, "%s/vms", ctx->conf_dir) < 0 || asprintf(&name, "%s.ini", vm) < 0)
		return -ENOMEM;
	/* The configuration directory itself must exist (the package makes it); vms/ we may create. */
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!replace && access(path, F_OK) == 0)
		return -EEXIST;
	return replace ? write_file_atomic(dir, name, text, 0644) : write_file_atomic_new(dir, name, text, 0644);
}

int vmfile_commit(const struct hookctl *ctx, const char *vm, const char *text, bool replace)
{
	_cleanup_free_ char *path = NULL;
	struct diag diag = { 0 };
	int r;

	r = vmfile_path(ctx, vm, &path);
	if (r < 0)
		return r;
	r = vmfile_validate(vm, text, &diag);
	if (r < 0) {
		vmfile_print_diag(&diag);
		diag_clear(&diag);
		hookctl_error("%s is not valid; nothing written.", path);
		return r;
	}
	r = vmfile_install(ctx, vm, text, replace);
	if (r == -EEXIST) {
		hookctl_error("%s exists; use --force to overwrite it.", path);
		return r;
	}
	if (r < 0) {
		hookctl_error("cannot write %s: %s", path, strerror(-r));
		return r;
	}
	hookctl_note("Wrote %s.", path);
	daemon_request_reload(ctx);
	return 0;
}
