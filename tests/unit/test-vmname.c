/* Unit tests of hookd/lib/vmname.c: which libvirt domain names hookd may use as file names. */
#include <errno.h>

#include "test.h"
#include "vmname.h"

static void test_accepted(void)
{
	static const char *const names[] = { "win10", "Windows 10 Pro", "my-vm_1.2", "a", "vm.", "ünïcode-vm" };
	char longest[HOOKD_VM_NAME_MAX + 1];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *why = NULL;

		if (vm_name_validate(names[i], &why) != 0) {
			fprintf(stderr, "refused good name '%s': %s\n", names[i], why);
			exit(1);
		}
	}
	memset(longest, 'x', HOOKD_VM_NAME_MAX);
	longest[HOOKD_VM_NAME_MAX] = '\0';
	CHECK_INT(vm_name_validate(longest, NULL), 0);
}

static void expect_refused(const char *name, const char *why_expected)
{
	const char *why = NULL;

	if (vm_name_validate(name, &why) != -EINVAL) {
		fprintf(stderr, "accepted bad name '%s'\n", name ? name : "(null)");
		exit(1);
	}
	CHECK_STR(why, why_expected);
}

static void test_refused(void)
{
	char too_long[HOOKD_VM_NAME_MAX + 2];

	expect_refused(NULL, "the VM name is empty");
	expect_refused("", "the VM name is empty");
	expect_refused("/", "the VM name may not contain '/'");
	expect_refused("a/b", "the VM name may not contain '/'");
	expect_refused("win10/", "the VM name may not contain '/'");
	expect_refused(".", "the VM name may not be '.' or '..'");
	expect_refused("..", "the VM name may not be '.' or '..'");
	expect_refused(".hidden", "the VM name may not start with '.'");
	expect_refused("a\nb", "the VM name may not contain control characters");
	expect_refused("tab\there", "the VM name may not contain control characters");
	expect_refused("esc\x1b[0m", "the VM name may not contain control characters");
	expect_refused("del\x7f", "the VM name may not contain control characters");
	memset(too_long, 'x', HOOKD_VM_NAME_MAX + 1);
	too_long[HOOKD_VM_NAME_MAX + 1] = '\0';
	expect_refused(too_long, "the VM name is too long");
	/* why may be NULL. */
	CHECK_INT(vm_name_validate("..", NULL), -EINVAL);
}

int main(void)
{
	RUN(test_accepted);
	RUN(test_refused);
	return 0;
}
