/* What every hookctl subcommand shares: the global options, and the handlers main.c's table dispatches to. */
#pragma once

#include <stdbool.h>

struct hookctl {
	const char *conf_dir;	 /* --conf-dir, $HOOKD_CONF_DIR, or the compiled-in default */
	const char *socket_path; /* --socket, $HOOKD_SOCKET, or the compiled-in default */
	const char *sysfs_root;	 /* --sysfs-root; only ever read */
	const char *proc_root;	 /* $HOOKCTL_PROC_ROOT or /proc (tests aim it at a fixture) */
	const char *connect_uri; /* --connect, libvirt URI; opened read-only */
	const char *vm_filter;	 /* --vm (iommu) */
	const char *xml_file;	 /* --xml FILE (init, check) */
	bool json;
	bool color; /* stdout is a terminal and NO_COLOR is unset, and no --no-color */
	bool force;
	bool to_stdout; /* --stdout: print instead of writing the file */
};

/* Positive exit statuses a handler may return besides 0 and -errno (which main() maps to 1). They follow
 * systemctl status where they overlap. */
enum {
	HOOKCTL_EXIT_FAILURE = 1, /* a VM in an error state, a stuck device, a refused check */
	HOOKCTL_EXIT_USAGE = 2,
	HOOKCTL_EXIT_NOT_RUNNING = 3, /* the daemon is not running */
	HOOKCTL_EXIT_NO_SUCH_VM = 4,
};

/* Handlers: argv holds only the subcommand's positional arguments. Return 0, a HOOKCTL_EXIT_* status, or
 * -errno after having printed the one message that explains it. */
int cmd_status(struct hookctl *ctx, int argc, char **argv);
int cmd_iommu(struct hookctl *ctx, int argc, char **argv);
int cmd_check(struct hookctl *ctx, int argc, char **argv);
int cmd_edit(struct hookctl *ctx, int argc, char **argv);
int cmd_cat(struct hookctl *ctx, int argc, char **argv);
int cmd_get(struct hookctl *ctx, int argc, char **argv);
int cmd_set(struct hookctl *ctx, int argc, char **argv);
int cmd_unset(struct hookctl *ctx, int argc, char **argv);
int cmd_init(struct hookctl *ctx, int argc, char **argv);
int cmd_import(struct hookctl *ctx, int argc, char **argv);
int cmd_prepare(struct hookctl *ctx, int argc, char **argv);
int cmd_release(struct hookctl *ctx, int argc, char **argv);
int cmd_reload(struct hookctl *ctx, int argc, char **argv);

/* One error line on stderr: "hookctl: ...". */
void hookctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hookctl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
