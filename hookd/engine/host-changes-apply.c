/* Host changes on prepare and release (host-changes.h): the same discipline as a device move (journaled with
 * the value found before each write, verified, undone in reverse), and shared changes refcounted through the
 * journals under the journal lock. The write side. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host-changes.h"
#include "journal.h"
#include "log.h"
#include "util.h"

/* "cpu-governor cpu3", for messages; "cpu-governor:cpu3" for fault points. */
static void change_label(const struct plan_host_change *c, char sep, char buf[static 300])
{
	snprintf(buf, 300, "%s%c%s", host_change_kind_to_string(c->kind), sep, c->target);
}

/* " (WHAT VM a, b)" when other VMs hold the change, else "". */
static const char *shared_note(const struct host_change_holds *h, const char *what, char buf[static 160])
{
	size_t len;

	buf[0] = '\0';
	if (!h->vms || !h->vms[0])
		return buf;
	snprintf(buf, 160, " (%s VM", what);
	for (char **v = h->vms; *v; v++) {
		len = strlen(buf);
		snprintf(buf + len, 160 - len, "%s %s", v == h->vms ? "" : ",", *v);
	}
	len = strlen(buf);
	snprintf(buf + len, 160 - len, ")");
	return buf;
}

/* Fails the step on C with WHY (or R's text); returns R. */
static int fail(const struct host_steps *s, const struct plan_host_change *c, const char *why, int r)
{
	char what[300];

	change_label(c, ' ', what);
	s->fail(s->userdata, what, why ? why : strerror(-r));
	return r;
}

static int step_fault(const struct host_steps *s, const char *action, const struct plan_host_change *c)
{
	char target[300];

	change_label(c, ':', target);
	return s->fault(s->userdata, action, target);
}

unsigned host_wait_ms(const struct host_context *ctx, unsigned want_ms, bool *ret_cut_short)
{
	unsigned long long now = monotonic_ms(), left;

	left = !ctx->deadline_ms ? want_ms : now >= ctx->deadline_ms ? 0 : ctx->deadline_ms - now;
	if (ret_cut_short)
		*ret_cut_short = left < want_ms;
	return left < want_ms ? (unsigned)left : want_ms;
}

unsigned host_job_timeout_ms(const struct host_context *ctx)
{
	return ctx->deadline_ms ? host_wait_ms(ctx, UINT_MAX, NULL) : ctx->timeout_ms;
}

/* A shared change is read and acted on by one VM at a time: for one, take the journal lock (*ret_lock, for
 * the caller to close once its journal is saved) and read what the other VMs' journals hold of it (*holds).
 * Nothing to do for a change no other VM can share (*ret_lock stays -1, *holds empty). Fails the step,
 * naming the change. */
static int lock_and_read_holds(const struct host_steps *s, const struct host_change_reader *reader,
			       const struct plan_host_change *c, int *ret_lock, struct host_change_holds *holds)
{
	int fd, r;

	if (!reader->shared)
		return 0;
	fd = journal_lock(s->ctx->run_dir, s->timeout(s->userdata));
	if (fd < 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot take the journal lock %s/state/.lock: %s", s->ctx->run_dir,
			 fd == -ETIMEDOUT ? "another VM's change holds it" : strerror(-fd));
		return fail(s, c, why, fd);
	}
	*ret_lock = fd;
	r = host_change_holds_read(s->ctx->run_dir, s->ctx->vm, c->kind, c->target, holds);
	if (r < 0)
		return fail(s, c, "cannot read the other VMs' journals", r);
	return 0;
}

static int apply_one(const struct host_steps *s, struct plan_host_change *c)
{
	const struct host_change_reader *reader = host_change_reader_for(c->kind);
	const struct host_change_writer *writer = host_change_writer_for(c->kind);
	_cleanup_(host_change_holds_clear) struct host_change_holds holds = { 0 };
	_cleanup_free_ char *value = NULL, *why = NULL;
	_cleanup_close_ int lock = -1;
	int r;

	if (!reader || !writer)
		return fail(s, c, "this hookd cannot make that change", -EOPNOTSUPP);
	r = lock_and_read_holds(s, reader, c, &lock, &holds);
	if (r < 0)
		return r;
	free(c->before);
	c->before = NULL;
	if (holds.before) {
		/* Another VM changed it first: the host's value is the one it found, never what it wrote. */
		c->before = TAKE_PTR(holds.before);
	} else {
		s->ctx->timeout_ms = s->timeout(s->userdata);
		r = reader->read(s->ctx, c, &c->before);
		if (r < 0)
			return fail(s, c, "cannot read its value before the change", r);
	}
	if (reader->shared)
		r = host_change_combined(reader, c->before, &holds, c->wanted, &value, &why);
	else
		r = (value = strdup(c->wanted)) ? 0 : -ENOMEM;
	if (r < 0)
		return fail(s, c, why, r);
	c->step = HOST_CHANGE_APPLYING;
	r = s->save(s->userdata);
	if (r < 0)
		return r;
	s->ctx->timeout_ms = s->timeout(s->userdata);
	r = step_fault(s, "host-apply", c);
	if (r >= 0)
		r = writer->apply(s->ctx, c, value, &why);
	if (r < 0)
		return fail(s, c, why, r);
	c->step = HOST_CHANGE_APPLIED;
	r = s->save(s->userdata);
	if (r >= 0) {
		char shared[160];

		log_ctx(LOG_INFO, s->ctx->vm, "prepare", NULL, "%s %s: %s -> %s%s", host_change_kind_to_string(c->kind),
			c->target, c->before, value, shared_note(&holds, "shared with", shared));
	}
	return r;
}

int host_changes_apply(const struct host_steps *s, struct plan *p)
{
	for (size_t i = 0; i < p->n_host_changes; i++) {
		int r = apply_one(s, &p->host_changes[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int undo_one(const struct host_steps *s, struct plan_host_change *c)
{
	const struct host_change_reader *reader = host_change_reader_for(c->kind);
	const struct host_change_writer *writer = host_change_writer_for(c->kind);
	_cleanup_(host_change_holds_clear) struct host_change_holds holds = { 0 };
	_cleanup_free_ char *value = NULL, *why = NULL;
	_cleanup_close_ int lock = -1;
	int r;

	if (c->step != HOST_CHANGE_APPLYING && c->step != HOST_CHANGE_APPLIED)
		return 0;
	if (!reader || !writer)
		return fail(s, c, "this hookd cannot undo that change", -EOPNOTSUPP);
	/* APPLYING is journaled with `before`: a journal without it cannot say what to write back. */
	if (!c->before)
		return fail(s, c, "its journal does not say what it was before; it is left as it is", -EINVAL);
	r = lock_and_read_holds(s, reader, c, &lock, &holds);
	if (r < 0)
		return r;
	if (reader->shared)
		/* The last holder writes the host's value back; the others hand it on to those left. */
		r = host_change_combined(reader, c->before, &holds, NULL, &value, &why);
	else
		r = (value = strdup(c->before)) ? 0 : -ENOMEM;
	if (r < 0)
		return fail(s, c, why, r);
	s->ctx->timeout_ms = s->timeout(s->userdata);
	r = step_fault(s, "host-restore", c);
	if (r >= 0)
		r = writer->restore(s->ctx, c, value, &why);
	if (r < 0)
		return fail(s, c, why, r);
	c->step = HOST_CHANGE_RESTORED;
	{
		char shared[160];

		log_ctx(LOG_INFO, s->ctx->vm, "release", NULL, "%s %s: %s %s%s", host_change_kind_to_string(c->kind),
			c->target, holds.vms && holds.vms[0] ? "handed on as" : "back to", value,
			shared_note(&holds, "still held by", shared));
	}
	return s->save(s->userdata);
}

int host_changes_undo(const struct host_steps *s, struct plan *p)
{
	int first = 0;

	for (size_t i = p->n_host_changes; i-- > 0;) {
		int r = undo_one(s, &p->host_changes[i]);

		first = first ? first : r;
	}
	return first;
}

int host_changes_resume(struct host_context *ctx, const struct plan *p)
{
	int first = 0;

	for (size_t i = 0; i < p->n_host_changes; i++) {
		const struct plan_host_change *c = &p->host_changes[i];
		const struct host_change_writer *writer = host_change_writer_for(c->kind);
		_cleanup_free_ char *why = NULL;
		int r;

		if (c->step != HOST_CHANGE_APPLIED || !writer || !writer->resume)
			continue;
		r = writer->resume(ctx, c, &why);
		if (r < 0)
			log_ctx(LOG_WARNING, ctx->vm, "recover", NULL, "%s %s cannot be taken again: %s",
				host_change_kind_to_string(c->kind), c->target, why ? why : strerror(-r));
		else
			log_ctx(LOG_INFO, ctx->vm, "recover", NULL, "%s %s taken again for the running VM",
				host_change_kind_to_string(c->kind), c->target);
		first = first ? first : r;
	}
	return first;
}
