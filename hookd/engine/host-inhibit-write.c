/* sleep-inhibited, the write side (host-freeing.h): logind's Inhibit("sleep", "hookd", ..., "block"). The
 * inhibitor lasts while its fd is open, so hookd's process keeps one per VM here, keyed by the engine's run
 * directory and the VM (several engines share a process in the tests). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host-freeing.h"
#include "util.h"

struct inhibitor {
	struct inhibitor *next;
	char *key; /* "RUN_DIR/VM" */
	int fd;
};

static pthread_mutex_t inhibitors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inhibitor *inhibitors; /* owned here; under inhibitors_lock */

static char *inhibitor_key(const struct host_context *ctx)
{
	char *key;

	return asprintf(&key, "%s/%s", ctx->run_dir ? ctx->run_dir : "", ctx->vm) < 0 ? NULL : key;
}

/* Take the inhibitor away from the list, or -1 when there is none. */
static int inhibitor_take(const char *key)
{
	int fd = -1;

	pthread_mutex_lock(&inhibitors_lock);
	for (struct inhibitor **i = &inhibitors; *i; i = &(*i)->next)
		if (streq((*i)->key, key)) {
			struct inhibitor *gone = *i;

			*i = gone->next;
			fd = gone->fd;
			free(gone->key);
			free(gone);
			break;
		}
	pthread_mutex_unlock(&inhibitors_lock);
	return fd;
}

static bool inhibitor_held(const char *key)
{
	bool held = false;

	pthread_mutex_lock(&inhibitors_lock);
	for (struct inhibitor *i = inhibitors; i && !held; i = i->next)
		held = streq(i->key, key);
	pthread_mutex_unlock(&inhibitors_lock);
	return held;
}

/* Hold an inhibitor of WHAT for CTX's VM, unless this process holds one already. */
static int inhibitor_hold(struct host_context *ctx, const char *what, char **ret_why)
{
	_cleanup_free_ char *key = inhibitor_key(ctx), *why = NULL;
	struct inhibitor *i;
	int fd = -1, r;

	if (!key)
		return -ENOMEM;
	if (!ctx->bus)
		return -EOPNOTSUPP;
	if (inhibitor_held(key))
		return 0;
	if (asprintf(&why, "VM %s has host devices", ctx->vm) < 0)
		return -ENOMEM;
	r = ctx->bus->ops->inhibit(ctx->bus->data, what, "hookd", why, &fd, ret_why);
	if (r < 0)
		return r;
	i = calloc(1, sizeof(*i));
	if (!i) {
		close(fd);
		return -ENOMEM;
	}
	*i = (struct inhibitor){ .key = TAKE_PTR(key), .fd = fd };
	pthread_mutex_lock(&inhibitors_lock);
	i->next = inhibitors;
	inhibitors = i;
	pthread_mutex_unlock(&inhibitors_lock);
	return 0;
}

static int inhibit_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	int r = inhibitor_hold(ctx, c->target, ret_why);

	if (r < 0)
		return r;
	free(c->applied);
	c->applied = strdup("held");
	return c->applied ? 0 : -ENOMEM;
}

/* The inhibitor's fd closed with the hookd that took it (logind dropped it then): the VM still runs, so the
 * next hookd takes it again. */
static int inhibit_resume(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	return inhibitor_hold(ctx, c->target, ret_why);
}

/* Each VM gives back its own inhibitor, whatever the others hold. After a restart whose recovery could not take
 * it again (logind unreachable), there is none: nothing to give back. */
static int inhibit_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value,
			   char **ret_why)
{
	_cleanup_free_ char *key = inhibitor_key(ctx);
	int fd;

	if (!key)
		return -ENOMEM;
	fd = inhibitor_take(key);
	if (fd >= 0)
		close(fd);
	return 0;
}

const struct host_change_writer host_sleep_inhibited_writer = {
	.kind = HOST_SLEEP_INHIBITED,
	.apply = inhibit_apply,
	.restore = inhibit_restore,
	.resume = inhibit_resume,
};
