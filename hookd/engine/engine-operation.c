/* The operation's shared steps (engine-operation.h): its failures, deadlines, fault points and module steps. */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine-operation.h"
#include "log.h"
#include "util.h"

void operation_clear(struct operation *o)
{
	free(o->first_error);
	diag_clear(&o->failures);
}

/* Record a failure once as "VM x: WHAT: reason"; the first one is what prepare reports. */
void op_fail(struct operation *o, const char *what, const char *fmt, ...)
{
	_cleanup_free_ char *reason = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (n < 0)
		reason = NULL;
	diag_add(&o->failures, "VM %s: %s%s%s", o->plan->vm, what ? what : "", what ? ": " : "",
		 reason ? reason : "out of memory");
	log_ctx(LOG_ERR, o->plan->vm, o->op, NULL, "%s%s%s", what ? what : "", what ? ": " : "", reason ? reason : "");
	if (!o->first_error)
		o->first_error = strdup(o->failures.lines[o->failures.n - 1]);
}

/* The deadline of one write: the sysfs timeout, cut short by what is left of the whole operation. */
unsigned op_write_timeout(const struct operation *o)
{
	uint64_t now = monotonic_ms();

	if (now >= o->deadline_ms)
		return 0;
	return (unsigned)(o->deadline_ms - now < o->e->sysfs_timeout_ms ? o->deadline_ms - now
									: o->e->sysfs_timeout_ms);
}

/* HOOKD_FAULT=fail-at:PATTERN or crash-at:PATTERN (fnmatch over step names such as "unbind:0000:02:00.0"),
 * honoured only in builds made with -Dfault-injection=true. */
int engine_fault_point(const char *step)
{
#ifdef HOOKD_FAULT_INJECTION
	const char *f = getenv("HOOKD_FAULT");

	if (!f)
		return 0;
	if (startswith(f, "crash-at:") && fnmatch(f + strlen("crash-at:"), step, 0) == 0)
		raise(SIGKILL);
	if (startswith(f, "fail-at:") && fnmatch(f + strlen("fail-at:"), step, 0) == 0)
		return -ECANCELED;
#endif
	(void)step;
	return 0;
}

int engine_step_fault(const char *action, const char *target)
{
	char step[256];

	snprintf(step, sizeof(step), "%s:%s", action, target);
	return engine_fault_point(step);
}

/* What a failed kernel step says: a deadline in words, not "Connection timed out". */
const char *op_step_error(const struct operation *o, int r, char buf[static 96])
{
	if (r != -ETIMEDOUT)
		return strerror(-r);
	snprintf(buf, 96, "the kernel did not finish it within %u ms", o->e->sysfs_timeout_ms);
	return buf;
}

/* Load or unload a module under the operation's deadline; *RET_TIMEOUT is the deadline used. */
int op_module_load(struct operation *o, const char *name, unsigned *ret_timeout)
{
	*ret_timeout = op_write_timeout(o);
	return o->e->kernel.ops->module_load(o->e->kernel.data, name, *ret_timeout);
}

int op_module_unload(struct operation *o, const char *name, unsigned *ret_timeout)
{
	*ret_timeout = op_write_timeout(o);
	return o->e->kernel.ops->module_unload(o->e->kernel.data, name, *ret_timeout);
}

/* Why a module step failed, in the user's terms. */
const char *module_failure_reason(int r, unsigned timeout_ms, char buf[static 96])
{
	if (r == -ETIMEDOUT)
		snprintf(buf, 96, "the kernel did not finish within %u ms", timeout_ms);
	else
		snprintf(buf, 96, "%s",
			 r == -EBUSY   ? "it is in use"
			 : r == -EPERM ? "it is blacklisted"
				       : strerror(-r));
	return buf;
}
