/* The host changes as check and status show them (host-changes.h): the journal's fields, who else holds each
 * one, and for check the value the host has now. The read side: hookctl's own check builds it too. */
#include <errno.h>
#include <stdlib.h>

#include "host-changes.h"
#include "util.h"

static json_object *strv_json(char *const *v)
{
	json_object *a = json_object_new_array();

	for (; a && v && *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

json_object *host_changes_to_json(struct host_context *ctx, const struct plan *p, bool read_now)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; list && i < p->n_host_changes; i++) {
		const struct plan_host_change *c = &p->host_changes[i];
		const struct host_change_reader *reader = host_change_reader_for(c->kind);
		_cleanup_(host_change_holds_clear) struct host_change_holds holds = { 0 };
		json_object *j = host_change_to_json(c);

		if (!j)
			break;
		/* Who else holds it: the journals say, whether or not this VM holds it yet (check shows the VMs it
		 * would share the change with). */
		if (reader && reader->shared)
			(void)host_change_holds_read(ctx->run_dir, p->vm, c->kind, c->target, &holds);
		json_object_object_add(j, "shared_with", strv_json(holds.vms));
		/* What the host holds now for a change this VM shares: read, since the other VMs' coming and
		 * going changed it after this VM wrote its value. Left out when it cannot be read. */
		if (!read_now && holds.vms && holds.vms[0] && host_change_is_held(c)) {
			_cleanup_free_ char *in_effect = NULL;

			if (reader->read(ctx, c, &in_effect) == 0 && in_effect)
				json_object_object_add(j, "in_effect", json_object_new_string(in_effect));
		}
		if (read_now) {
			_cleanup_free_ char *now = NULL;

			if (reader && reader->read(ctx, c, &now) < 0) {
				free(now);
				now = NULL;
			}
			json_object_object_add(j, "now", now ? json_object_new_string(now) : NULL);
		}
		json_object_array_add(list, j);
	}
	return list;
}
