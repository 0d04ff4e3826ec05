/* Logging with context. Under journald (JOURNAL_STREAM matches stderr) messages go to the journal with
 * VM=, OP= and PCI_ADDRESS= fields; otherwise one line on stderr: "hookd: VM win10 0000:0a:00.0: ...". */
#pragma once

#include <stdarg.h>
#include <syslog.h>

void log_setup(const char *ident);
void log_set_max_level(int prio);

/* vm, op and pci may be NULL. Returns nothing: logging never fails the caller. */
void log_ctx(int prio, const char *vm, const char *op, const char *pci, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_debug(...) log_ctx(LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_ctx(LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_ctx(LOG_WARNING, NULL, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_ctx(LOG_ERR, NULL, NULL, NULL, __VA_ARGS__)
