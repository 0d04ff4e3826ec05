/* One line of /proc/PID/mountinfo (proc(5)):
 *   ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
 * The kernel escapes space, tab, newline and backslash in paths as \040 \011 \012 \134; the fields here are
 * unescaped. */
#pragma once

struct mountinfo_entry {
	unsigned major, minor; /* of the mounted filesystem's device (0:N for those without one) */
	char *root;	       /* the mount's root within its filesystem */
	char *mount_point;
	char *fstype;
	char *source; /* "/dev/nvme0n1p1", "tmpfs", "none", ... */
};

/* Parse LINE (its '\n', if any, is ignored). 0; -EINVAL when it is not a mountinfo line; -ENOMEM. On error
 * *ret is left cleared. */
int mountinfo_parse_line(const char *line, struct mountinfo_entry *ret);
void mountinfo_entry_clear(struct mountinfo_entry *e);
