/* Unit tests of hookd/lib/mountinfo.c: the line reader behind "is this disk mounted?" (storage checks). */
#include <errno.h>

#include "mountinfo.h"
#include "test.h"

static void test_plain_and_optional_fields(void)
{
	struct mountinfo_entry m;

	CHECK_INT(mountinfo_parse_line("36 35 259:2 / / rw,relatime shared:1 master:2 - ext4 /dev/nvme0n1p2 rw\n", &m),
		  0);
	CHECK_INT(m.major, 259);
	CHECK_INT(m.minor, 2);
	CHECK_STR(m.root, "/");
	CHECK_STR(m.mount_point, "/");
	CHECK_STR(m.fstype, "ext4");
	CHECK_STR(m.source, "/dev/nvme0n1p2");
	mountinfo_entry_clear(&m);
	/* No optional fields at all. */
	CHECK_INT(mountinfo_parse_line("22 1 0:21 / /run rw - tmpfs tmpfs rw", &m), 0);
	CHECK_STR(m.mount_point, "/run");
	CHECK_STR(m.source, "tmpfs");
	mountinfo_entry_clear(&m);
}

static void test_escapes(void)
{
	struct mountinfo_entry m;

	/* A mount point with a space, a tab and a backslash, as the kernel writes it. */
	CHECK_INT(mountinfo_parse_line("40 36 259:5 / /mnt/my\\040disk\\011x\\134y rw - xfs /dev/nvme1n1 rw", &m), 0);
	CHECK_STR(m.mount_point, "/mnt/my disk\tx\\y");
	mountinfo_entry_clear(&m);
	/* \000 would end the string early for every reader: the line is refused. */
	CHECK_INT(mountinfo_parse_line("40 36 259:5 / /mnt/a\\000b rw - xfs /dev/nvme1n1 rw", &m), -EINVAL);
	CHECK(m.mount_point == NULL);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"36 35 259 / / rw - ext4 /dev/sda rw",		/* no MAJOR:MINOR */
		"36 35 259:2 / / rw shared:1 ext4 /dev/sda rw", /* no "-" */
		"36 35 259:2 / / rw -",				/* nothing after "-" */
		"36 35 259:2 / / rw - ext4",			/* no source */
		"x 35 259:2 / / rw - ext4 /dev/sda rw",
	};
	struct mountinfo_entry m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mountinfo_parse_line(bad[i], &m) != -EINVAL) {
			fprintf(stderr, "accepted '%s'\n", bad[i]);
			exit(1);
		}
	}
}

int main(void)
{
	test_plain_and_optional_fields();
	test_escapes();
	test_malformed();
	return 0;
}
