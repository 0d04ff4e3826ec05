/* Small parsers for the /proc/PID files that name a process holding a device (proc(5)): cgroup (its systemd
 * unit and login session), maps (the files it has mapped) and status (its user). Pure: they parse text the
 * caller has read, so fixture trees and fuzzers reach every branch. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Where a process sits in systemd's tree, from its cgroup path, as systemd itself reads it: slices are
 * skipped, the first other component ending in .service or .scope is the unit. */
struct proc_cgroup {
	char *unit;	 /* "display-manager.service", "session-2.scope", "user@1000.service"; NULL: none (the
			  * root cgroup, a kernel thread, a path with no unit) */
	char *user_unit; /* inside user@UID.service, that manager's unit ("pipewire.service"); else NULL */
	char *session;	 /* "2" when the unit is session-2.scope; else NULL */
};

/* Parse the whole of /proc/PID/cgroup (TEXT, NUL-terminated): the cgroup v2 line "0::/path", or on a
 * hybrid v1 host the "name=systemd" hierarchy's line. 0 (all fields NULL when no line names a unit);
 * -EINVAL when a line is not "ID:CONTROLLERS:PATH"; -ENOMEM. On error *ret is left cleared. */
int proc_cgroup_parse(const char *text, struct proc_cgroup *ret);
void proc_cgroup_clear(struct proc_cgroup *c);

/* The file of one /proc/PID/maps line (LINE, NUL-terminated; a trailing '\n' is ignored):
 *   START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]
 * *ret_path points into LINE at the path (which may hold spaces, and ends in " (deleted)" for a removed
 * file), and *ret_path_len is its length without the newline; *ret_path is NULL for an anonymous mapping.
 * 0, or -EINVAL when LINE is not a maps line. */
int proc_maps_parse_line(const char *line, const char **ret_path, size_t *ret_path_len);

/* The real user id from the whole of /proc/PID/status (its "Uid:" line: real, effective, saved, fs).
 * 0; -ENOENT when there is no Uid line; -EINVAL when it is malformed. */
int proc_status_uid(const char *text, uid_t *ret);
