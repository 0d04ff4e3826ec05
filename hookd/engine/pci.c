#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "pci.h"
#include "util.h"

/* PATH is whole: nothing the caller owns is used, as a timed-out writer outlives the caller. */
static int write_now(void *data, const char *path, const char *value)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	(void)data;
	/* O_TRUNC as the shell does: harmless on sysfs, and a fixture file then holds only the last write. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

int sysfs_write(const char *sysfs_root, const char *relpath, const char *value, unsigned timeout_ms)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", sysfs_root, relpath) < 0)
		return -ENOMEM;
	return call_with_deadline(write_now, NULL, NULL, path, value, timeout_ms);
}

static int device_write(const struct kernel *k, const char *address, const char *attr, const char *value,
			unsigned timeout_ms)
{
	char rel[96];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/%s", address, attr);
	return kernel_write(k, rel, value, timeout_ms);
}

int pci_set_driver_override(const struct kernel *k, const char *address, const char *driver, unsigned timeout_ms)
{
	/* "\n" clears it: the kernel strips the newline and stores nothing. */
	return device_write(k, address, "driver_override", driver ? driver : "\n", timeout_ms);
}

int pci_unbind(const struct kernel *k, const char *address, unsigned timeout_ms)
{
	int r = device_write(k, address, "driver/unbind", address, timeout_ms);

	/* No driver link: nothing to unbind. */
	return r == -ENOENT ? 0 : r;
}

int pci_probe(const struct kernel *k, const char *address, unsigned timeout_ms)
{
	return kernel_write(k, "bus/pci/drivers_probe", address, timeout_ms);
}

int pci_set_reset_method(const struct kernel *k, const char *address, const char *method, unsigned timeout_ms)
{
	return device_write(k, address, "reset_method", method, timeout_ms);
}
