#include <errno.h>
#include <string.h>

#include "vmname.h"

int vm_name_validate(const char *name, const char **why)
{
	const char *dummy;
	size_t len;

	if (!why)
		why = &dummy;
	if (!name || !*name) {
		*why = "the VM name is empty";
		return -EINVAL;
	}
	len = strlen(name);
	if (len > HOOKD_VM_NAME_MAX) {
		*why = "the VM name is too long";
		return -EINVAL;
	}
	/* libvirt refuses '/' in names; '.' and '..' would escape the config directory. */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*why = "the VM name may not be '.' or '..'";
		return -EINVAL;
	}
	if (name[0] == '.') {
		*why = "the VM name may not start with '.'";
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == '/') {
			*why = "the VM name may not contain '/'";
			return -EINVAL;
		}
		if (*p < 0x20 || *p == 0x7f) {
			*why = "the VM name may not contain control characters";
			return -EINVAL;
		}
	}
	return 0;
}
