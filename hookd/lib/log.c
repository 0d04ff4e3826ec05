#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "util.h"

static const char *log_ident = "hookd";
static int log_max = LOG_INFO;
static int log_to_journal = -1;

/* JOURNAL_STREAM is "DEV:INODE" of the journal's stream; it is only ours if stderr is that stream. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(const char *ident)
{
	const char *lvl = getenv("HOOKD_LOG_LEVEL");

	log_ident = ident;
	log_to_journal = stderr_is_journal();
	if (lvl && strcmp(lvl, "debug") == 0)
		log_max = LOG_DEBUG;
}

void log_set_max_level(int prio)
{
	log_max = prio;
}

/* "KEY=value" in buf (truncated to fit), as one journal field. */
static struct iovec log_field(char *buf, size_t size, const char *key, const char *value)
{
	int len = snprintf(buf, size, "%s=%s", key, value);

	if (len < 0)
		len = 0;
	if ((size_t)len >= size)
		len = (int)size - 1;
	return (struct iovec){ .iov_base = buf, .iov_len = (size_t)len };
}

void log_ctx(int prio, const char *vm, const char *op, const char *pci, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_to_journal < 0)
		log_to_journal = stderr_is_journal();
	if (log_to_journal) {
		/* Only the fields we have: an empty "VM=" would need its own argument pairing, and one
		 * malformed field makes journald drop the whole entry. */
		char f_msg[sizeof(msg) + 8], f_prio[16], f_ident[64], f_vm[128], f_op[64], f_pci[48];
		struct iovec iov[6];
		int n = 0;

		iov[n++] = log_field(f_msg, sizeof(f_msg), "MESSAGE", msg);
		snprintf(f_prio, sizeof(f_prio), "PRIORITY=%i", prio);
		iov[n++] = (struct iovec){ .iov_base = f_prio, .iov_len = strlen(f_prio) };
		iov[n++] = log_field(f_ident, sizeof(f_ident), "SYSLOG_IDENTIFIER", log_ident);
		if (vm)
			iov[n++] = log_field(f_vm, sizeof(f_vm), "VM", vm);
		if (op)
			iov[n++] = log_field(f_op, sizeof(f_op), "OP", op);
		if (pci)
			iov[n++] = log_field(f_pci, sizeof(f_pci), "PCI_ADDRESS", pci);
		sd_journal_sendv(iov, n);
		return;
	}
	/* Lines made for the user (a check's warning) already name their VM: not twice. */
	if (vm && startswith(msg, "VM ") && startswith(msg + 3, vm) && startswith(msg + 3 + strlen(vm), ": "))
		vm = NULL;
	fprintf(stderr, "%s: %s%s%s%s%s%s%s\n", log_ident, vm ? "VM " : "", vm ? vm : "", vm ? ": " : "",
		pci ? pci : "", pci ? ": " : "", msg, "");
	(void)op;
}
