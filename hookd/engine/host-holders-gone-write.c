/* holders-gone, the write side (host-freeing.h): after the units are stopped and the sessions ended, wait (at
 * most the VM's holders-timeout) until no process holds the device's nodes. Never kills anything: the
 * processes left are named and prepare is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "holders.h"
#include "host-freeing.h"
#include "util.h"

#define HOLDERS_POLL_MS 100u

/* "pid 1234 (Xorg, user alice, display-manager.service) and 1 more", or NULL when no process holds it. */
static int processes_left(const struct holders *h, char **ret)
{
	const struct holder *first = NULL;
	size_t n = 0;
	_cleanup_free_ char *name = NULL;

	*ret = NULL;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].kind == HOLDER_PROCESS) {
			first = first ? first : &h->v[i];
			n++;
		}
	if (!first)
		return 0;
	name = holder_name(first);
	if (!name)
		return -ENOMEM;
	if (n == 1) {
		*ret = TAKE_PTR(name);
		return 0;
	}
	return asprintf(ret, "%s and %zu more", name, n - 1) < 0 ? -ENOMEM : 0;
}

/* The wait is over with LEFT still holding the device: -EBUSY with *RET_WHY. */
static int refuse_held(const char *left, unsigned wait_ms, bool cut_short, char **ret_why)
{
	if (ret_why && (cut_short ? asprintf(ret_why,
					     "still in use by %s when the operation's time ran out (operation-timeout "
					     "of hookd.conf, shorter than holders-timeout %g s)",
					     left, wait_ms / 1000.0)
				  : asprintf(ret_why, "still in use by %s after %g s", left, wait_ms / 1000.0)) < 0)
		*ret_why = NULL;
	return -EBUSY;
}

static int holders_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	unsigned wait_ms;
	unsigned long long deadline;
	_cleanup_free_ char *left = NULL;
	bool cut_short = false;
	int r;

	if (sscanf(c->wanted, "%u", &wait_ms) != 1)
		return -EINVAL;
	/* holders-timeout is the most this wait may take, never more than the operation has left. */
	deadline = monotonic_ms() + host_wait_ms(ctx, wait_ms, &cut_short);
	for (;;) {
		const struct timespec pause = { .tv_nsec = HOLDERS_POLL_MS * 1000 * 1000 };
		struct holders h = { 0 };
		unsigned long long now = monotonic_ms();
		unsigned scan_ms = now < deadline ? (unsigned)(deadline - now) : 0;

		/* Each scan is bounded too: a process stuck in the kernel must not stall prepare. */
		r = holders_gone_scan(ctx, c->target, scan_ms > HOLDERS_POLL_MS ? scan_ms : HOLDERS_POLL_MS, &h);
		/* A later scan that cannot finish (a loaded host, a process stuck in the kernel) does not unname
		 * the holders the last finished one found. */
		if (r == -ETIMEDOUT && left)
			return refuse_held(left, wait_ms, cut_short, ret_why);
		if (r == -ETIMEDOUT) {
			if (ret_why)
				*ret_why = strdup("who holds it cannot be told: reading /proc did not finish");
			return r;
		}
		if (r < 0)
			return r;
		free(left);
		r = processes_left(&h, &left);
		holders_clear(&h);
		if (r < 0)
			return r;
		if (!left)
			break;
		if (monotonic_ms() >= deadline)
			return refuse_held(left, wait_ms, cut_short, ret_why);
		nanosleep(&pause, NULL);
	}
	free(c->applied);
	c->applied = strdup("gone");
	return c->applied ? 0 : -ENOMEM;
}

/* A wait has nothing to undo. */
static int holders_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
			   char **ret_why)
{
	return 0;
}

const struct host_change_writer host_holders_gone_writer = {
	.kind = HOST_HOLDERS_GONE,
	.apply = holders_apply,
	.restore = holders_restore,
};
