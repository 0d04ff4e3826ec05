/* A VM's configuration file on disk: CONF_DIR/vms/<vm>.ini. Reading, validating with the real parser, and
 * installing atomically (write_file_atomic(): temp file in the same directory, fsync, rename, fsync of the
 * directory), the way the daemon writes its journal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "hookctl.h"

/* CONF_DIR/vms/<vm>.ini. A bad VM name prints why and returns -EINVAL. */
int vmfile_path(const struct hookctl *ctx, const char *vm, char **ret);
/* The file's text (NUL-terminated). -ENOENT when the VM has no file, -EFBIG over HOOKD_VM_CONFIG_MAX. */
int vmfile_read(const struct hookctl *ctx, const char *vm, char **ret);
/* Read any file (or "-" for stdin) up to max bytes, as text: -EFBIG over max, -EBADMSG with a NUL byte,
 * -errno of open() or read(). */
int hookctl_read_file(const char *path, size_t max, char **ret);
/* Only a regular file (or "-" for stdin), bytes as they are (NUL bytes too): NUL-terminated, *ret_len
 * excludes the NUL. A FIFO, socket or device is refused with -EINVAL at once, never waited on (reading one
 * can hang for good); -EISDIR, -EFBIG over max. */
int hookctl_read_regular(const char *path, size_t max, char **ret, size_t *ret_len);
/* A human reason for a hookctl_read_* error: "not a text file", "not a regular file ...", or strerror. */
const char *hookctl_read_error(int r);
/* Parse text with the daemon's own parser. -EINVAL with every problem in diag. */
int vmfile_validate(const char *vm, const char *text, struct diag *diag);
/* Print every diagnostic line on stderr. */
void vmfile_print_diag(const struct diag *diag);
/* Install text as VM's file. replace=false refuses an existing file with -EEXIST. Creates vms/ if missing. */
int vmfile_install(const struct hookctl *ctx, const char *vm, const char *text, bool replace);
/* Validate, install (replace as given) and ask hookd to reload; prints what happened. */
int vmfile_commit(const struct hookctl *ctx, const char *vm, const char *text, bool replace);
