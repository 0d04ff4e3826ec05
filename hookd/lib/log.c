#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"

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
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", prio, "SYSLOG_IDENTIFIER=%s", log_ident,
				vm ? "VM=%s" : "VM=", vm ? vm : "", op ? "OP=%s" : "OP=", op ? op : "",
				pci ? "PCI_ADDRESS=%s" : "PCI_ADDRESS=", pci ? pci : "", NULL);
		return;
	}
	fprintf(stderr, "%s: %s%s%s%s%s%s%s\n", log_ident, vm ? "VM " : "", vm ? vm : "", vm ? ": " : "",
		pci ? pci : "", pci ? ": " : "", msg, "");
	(void)op;
}
