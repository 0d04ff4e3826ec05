/* Which files hookd acts on, like sshd's StrictModes: a configuration file or a legacy script runs as root, so
 * it, and every directory above it up to the root it was found under (CONF_DIR, the libvirt hooks directory),
 * must be owned by root and writable by neither its group nor others. Anyone else could otherwise hand a
 * host device to a VM or run a command as root.
 * The one exception: a program run by another user (hookctl) also trusts that user's own files, which only
 * that user's process reads. The daemon and the hook run as root and trust root alone. */
#pragma once

#include <sys/stat.h>

/* Check the file at PATH, whose stat (of the file itself, from fstat of an fd opened with O_NOFOLLOW, or from
 * lstat) is *ST, and each directory from PATH's parent up to ROOT included. When PATH is not under ROOT (or
 * ROOT is NULL), only the file is checked.
 * 0 when all are trusted. -EPERM when one is not: *ret_why (caller frees) is one line naming that file or
 * directory and the command that fixes it, e.g. "/etc/hookd/vms/a.ini is writable by group or others
 * (mode 0666): refused; fix: chmod go-w /etc/hookd/vms/a.ini". -ENOMEM, or the -errno of a failed stat() of
 * a directory (then *ret_why names it too). */
int trust_check(const char *root, const char *path, const struct stat *st, char **ret_why);

/* Open PATH read-only without following a symbolic link as its last component, then trust_check() it.
 * 0 with *ret_fd; -ENOENT when it does not exist (no message); -ELOOP for a symbolic link and -EPERM for an
 * untrusted file, each with *ret_why; another -errno with *ret_why when it cannot be opened.
 * flags are added to O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NOFOLLOW (O_NONBLOCK keeps a FIFO from hanging us). */
int trust_open(const char *root, const char *path, int flags, int *ret_fd, char **ret_why);
