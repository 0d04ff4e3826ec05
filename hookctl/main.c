/* hookctl: the command line for hookd. main() parses the global options, finds the subcommand in one table
 * and is the only place that turns results into exit statuses. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd-config.h"
#include "hookctl.h"
#include "util.h"

/* Options a subcommand accepts besides the global ones. */
enum {
	OPT_JSON = 1u << 0,
	OPT_VM = 1u << 1,
	OPT_FORCE = 1u << 2,
	OPT_XML = 1u << 3,
	OPT_STDOUT = 1u << 4,
};

struct command {
	const char *name;
	int (*run)(struct hookctl *ctx, int argc, char **argv);
	int min_args, max_args;
	unsigned options;
	const char *args;    /* synopsis of the positional arguments */
	const char *summary; /* one line for the overview */
	const char *help;    /* what `hookctl CMD --help` adds */
};

static const struct command commands[] = {
	{ "status", cmd_status, 0, 1, OPT_JSON, "[VM]", "daemon, VMs and their devices",
	  "Shows whether hookd runs, and per configured VM its libvirt state and each device's driver,\n"
	  "original driver, IOMMU group and state. Exit status: 0 all fine, 1 a VM in an error state or a\n"
	  "stuck device, 3 hookd not running, 4 no such VM.\n"
	  "  --json            machine-readable output (schema in hookctl(1))\n" },
	{ "iommu", cmd_iommu, 0, 0, OPT_JSON | OPT_VM, "", "IOMMU groups, their devices and viability",
	  "Lists every IOMMU group with its devices and whether it can be passed through as configured.\n"
	  "  --vm VM           only the groups that hold devices VM claims\n"
	  "  --json            machine-readable output\n" },
	{ "check", cmd_check, 1, 1, OPT_JSON | OPT_XML, "VM", "what prepare would do, without doing it",
	  "Validates VM's configuration against this host and prints the plan prepare would carry out.\n"
	  "Exit status 1 with every reason when prepare would refuse. Changes nothing. A VM with\n"
	  "devices-from-xml is checked with its domain's XML from libvirt. A user who may not read the\n"
	  "VM's file gets hookd's own check instead (io.hookd.Check).\n"
	  "  --xml FILE        the domain XML to take <hostdev> devices from, instead of libvirt's\n"
	  "  --json            machine-readable output\n" },
	{ "edit", cmd_edit, 1, 1, 0, "VM", "edit VM's configuration in $VISUAL/$EDITOR",
	  "Opens a copy of VM's file (or a commented template) in $VISUAL, $EDITOR or vi, validates it\n"
	  "on save and installs it atomically, then asks hookd to reload.\n" },
	{ "cat", cmd_cat, 1, 1, 0, "VM", "print VM's configuration file", "" },
	{ "get", cmd_get, 2, 2, 0, "VM KEY", "print one value (KEY is section.key)",
	  "KEY is SECTION.KEY, e.g. vm.unload-modules or device.gpu.address. Exit status 1 when unset.\n" },
	{ "set", cmd_set, 3, 3, 0, "VM KEY VALUE", "set one value, keeping comments and order",
	  "The result is validated before it is installed; an invalid result writes nothing.\n" },
	{ "unset", cmd_unset, 2, 2, 0, "VM KEY", "remove a key, or a whole section",
	  "KEY is SECTION.KEY, or a SECTION name (device.gpu) to remove that section.\n" },
	{ "init", cmd_init, 1, 1, OPT_FORCE | OPT_XML | OPT_STDOUT, "VM", "write VM's file from its domain XML",
	  "Takes the domain's <hostdev> PCI devices and the other endpoints of their IOMMU groups.\n"
	  "  --xml FILE        read the domain XML from FILE instead of libvirt\n"
	  "  --force           overwrite an existing file\n"
	  "  --stdout          print the result instead of writing it\n" },
	{ "import", cmd_import, 2, 3, OPT_FORCE | OPT_STDOUT, "FILE VM [-]", "convert kvm.conf / vfio.conf",
	  "Converts VIRSH_NAME=pci_0000_0a_00_0 lines (kvm.conf) and 'options vfio-pci ids=V:D,...'\n"
	  "lines (modprobe.d) into VM's file. FILE '-' reads standard input.\n"
	  "  --force           overwrite an existing file\n"
	  "  --stdout, -       print the result instead of writing it\n" },
	{ "prepare", cmd_prepare, 1, 1, 0, "VM", "move VM's devices to vfio-pci now (recovery)", "" },
	{ "release", cmd_release, 1, 1, 0, "VM", "give VM's devices back to the host now (recovery)", "" },
	{ "reload", cmd_reload, 0, 0, 0, "", "make hookd read its configuration again",
	  "Asks hookd to load hookd.conf and the VM files again and waits for the answer. When any file is\n"
	  "invalid hookd keeps the running configuration; hookctl prints each problem and exits 1 (3 when\n"
	  "hookd is not running). hookd.service's ExecReload, so `systemctl reload hookd` fails the same way.\n" },
};

static const char global_help[] =
	"Global options:\n"
	"  --conf-dir DIR    configuration directory (default $HOOKD_CONF_DIR or " HOOKD_CONF_DIR ")\n"
	"  --socket PATH     hookd's socket (default $HOOKD_SOCKET or " HOOKD_SOCKET_PATH ")\n"
	"  --sysfs-root DIR  read sysfs from DIR instead of /sys (never written)\n"
	"  --connect URI     libvirt URI, opened read-only (default qemu:///system)\n"
	"  --no-color        no colours even on a terminal\n"
	"  -h, --help        this help; `hookctl COMMAND --help` for one command\n"
	"  --version         print the version\n";

void hookctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hookctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void hookctl_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void print_overview(FILE *f)
{
	fprintf(f, "Usage: hookctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		char left[32];

		snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-22s%s\n", left, commands[i].summary);
	}
	fprintf(f, "\n%s", global_help);
}

static void print_command_help(const struct command *c)
{
	printf("Usage: hookctl [OPTIONS] %s %s\n%s.\n\n%s\n%s", c->name, c->args, c->summary, c->help, global_help);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static const char *option_name(unsigned opt)
{
	switch (opt) {
	case OPT_JSON:
		return "--json";
	case OPT_VM:
		return "--vm";
	case OPT_FORCE:
		return "--force";
	case OPT_XML:
		return "--xml";
	case OPT_STDOUT:
		return "--stdout";
	}
	return "?";
}

int main(int argc, char **argv)
{
	enum {
		ARG_CONF_DIR = 0x100,
		ARG_SOCKET,
		ARG_SYSFS_ROOT,
		ARG_CONNECT,
		ARG_NO_COLOR,
		ARG_VERSION,
		ARG_JSON,
		ARG_VM,
		ARG_XML,
		ARG_STDOUT
	};
	static const struct option options[] = { { "conf-dir", required_argument, NULL, ARG_CONF_DIR },
						 { "socket", required_argument, NULL, ARG_SOCKET },
						 { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
						 { "connect", required_argument, NULL, ARG_CONNECT },
						 { "no-color", no_argument, NULL, ARG_NO_COLOR },
						 { "help", no_argument, NULL, 'h' },
						 { "version", no_argument, NULL, ARG_VERSION },
						 { "json", no_argument, NULL, ARG_JSON },
						 { "vm", required_argument, NULL, ARG_VM },
						 { "xml", required_argument, NULL, ARG_XML },
						 { "force", no_argument, NULL, 'f' },
						 { "stdout", no_argument, NULL, ARG_STDOUT },
						 {} };
	struct hookctl ctx = {
		.sysfs_root = "/sys",
		.proc_root = "/proc",
		.connect_uri = "qemu:///system",
	};
	const struct command *cmd;
	bool help = false, no_color = false;
	unsigned used = 0;
	const char *env;
	int c, r;

	env = getenv("HOOKD_CONF_DIR");
	ctx.conf_dir = env && *env ? env : HOOKD_CONF_DIR;
	env = getenv("HOOKCTL_PROC_ROOT");
	if (env && *env)
		ctx.proc_root = env;
	ctx.socket_path = getenv("HOOKD_SOCKET");
	if (!ctx.socket_path || !*ctx.socket_path)
		ctx.socket_path = HOOKD_SOCKET_PATH;

	while ((c = getopt_long(argc, argv, "hf", options, NULL)) >= 0) {
		switch (c) {
		case ARG_CONF_DIR:
			ctx.conf_dir = optarg;
			break;
		case ARG_SOCKET:
			ctx.socket_path = optarg;
			break;
		case ARG_SYSFS_ROOT:
			ctx.sysfs_root = optarg;
			break;
		case ARG_CONNECT:
			ctx.connect_uri = optarg;
			break;
		case ARG_NO_COLOR:
			no_color = true;
			break;
		case 'h':
			help = true;
			break;
		case ARG_VERSION:
			printf("hookctl %s\n", HOOKD_VERSION);
			return 0;
		case ARG_JSON:
			ctx.json = true;
			used |= OPT_JSON;
			break;
		case ARG_VM:
			ctx.vm_filter = optarg;
			used |= OPT_VM;
			break;
		case ARG_XML:
			ctx.xml_file = optarg;
			used |= OPT_XML;
			break;
		case 'f':
			ctx.force = true;
			used |= OPT_FORCE;
			break;
		case ARG_STDOUT:
			ctx.to_stdout = true;
			used |= OPT_STDOUT;
			break;
		default:
			fprintf(stderr, "Try 'hookctl --help'.\n");
			return HOOKCTL_EXIT_USAGE;
		}
	}
	ctx.color = !no_color && !getenv("NO_COLOR") && isatty(STDOUT_FILENO);

	if (optind >= argc) {
		if (help) {
			print_overview(stdout);
			return 0;
		}
		print_overview(stderr);
		return HOOKCTL_EXIT_USAGE;
	}
	if (streq(argv[optind], "help")) {
		cmd = optind + 1 < argc ? find_command(argv[optind + 1]) : NULL;
		if (cmd)
			print_command_help(cmd);
		else
			print_overview(stdout);
		return 0;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		hookctl_error("unknown command '%s'. Try 'hookctl --help'.", argv[optind]);
		return HOOKCTL_EXIT_USAGE;
	}
	if (help) {
		print_command_help(cmd);
		return 0;
	}
	if (used & ~cmd->options) {
		for (unsigned bit = 1; bit; bit <<= 1)
			if (used & ~cmd->options & bit) {
				hookctl_error("%s does not take %s. Try 'hookctl %s --help'.", cmd->name,
					      option_name(bit), cmd->name);
				break;
			}
		return HOOKCTL_EXIT_USAGE;
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (argc < cmd->min_args || argc > cmd->max_args) {
		hookctl_error("usage: hookctl %s %s", cmd->name, cmd->args);
		return HOOKCTL_EXIT_USAGE;
	}

	r = cmd->run(&ctx, argc, argv);
	if (fflush(stdout) != 0 && r >= 0) {
		hookctl_error("writing output: %s", strerror(errno));
		return HOOKCTL_EXIT_FAILURE;
	}
	if (r < 0)
		return HOOKCTL_EXIT_FAILURE;
	return r;
}
