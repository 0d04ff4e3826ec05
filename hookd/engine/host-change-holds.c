/* Shared host changes are refcounted through the journals themselves (host-change.h): who else holds a change
 * is read from the other VMs' journals, never from a second ledger. The read side: check, status and
 * prepare/release all ask here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host-changes.h"
#include "journal.h"
#include "strv.h"
#include "util.h"

void host_change_holds_clear(struct host_change_holds *h)
{
	if (!h)
		return;
	strv_free(h->vms);
	strv_free(h->wanted);
	free(h->before);
	*h = (struct host_change_holds){ 0 };
}

int host_change_holds_read(const char *run_dir, const char *vm, enum host_change_kind kind, const char *target,
			   struct host_change_holds *ret)
{
	_cleanup_strv_free_ char **names = NULL;
	struct host_change_holds h = { 0 };
	size_t n_vms = 0, n_wanted = 0;
	int r;

	*ret = (struct host_change_holds){ 0 };
	r = journal_list(run_dir, &names);
	if (r < 0)
		return r;
	h.vms = calloc(1, sizeof(char *));
	h.wanted = calloc(1, sizeof(char *));
	if (!h.vms || !h.wanted) {
		host_change_holds_clear(&h);
		return -ENOMEM;
	}
	for (char **n = names; *n && r >= 0; n++) {
		_cleanup_(plan_freep) struct plan *other = NULL;

		if (streq(*n, vm) || journal_load(run_dir, *n, &other) < 0)
			continue;
		for (size_t i = 0; r >= 0 && i < other->n_host_changes; i++) {
			const struct plan_host_change *c = &other->host_changes[i];

			if (c->kind != kind || !streq(c->target, target) || !host_change_is_held(c))
				continue;
			r = strv_push(&h.vms, &n_vms, other->vm);
			if (r >= 0)
				r = strv_push(&h.wanted, &n_wanted, c->wanted);
			if (r >= 0 && !h.before && c->before && !(h.before = strdup(c->before)))
				r = -ENOMEM;
		}
	}
	if (r < 0) {
		host_change_holds_clear(&h);
		return r;
	}
	*ret = h;
	return 0;
}

int host_change_combined(const struct host_change_reader *reader, const char *before,
			 const struct host_change_holds *holds, const char *own, char **ret, char **ret_why)
{
	size_t n = holds ? strv_length(holds->wanted) : 0;
	_cleanup_free_ char **wanted = calloc(n + 2, sizeof(char *));

	*ret = NULL;
	if (!wanted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		wanted[i] = holds->wanted[i];
	if (own)
		wanted[n++] = (char *)own;
	if (n == 0 || !reader->combine) {
		/* Nobody wants anything (the last holder's release), or a kind whose value is its own. */
		*ret = strdup(n == 0 ? (before ? before : "") : wanted[n - 1]);
		return *ret ? 0 : -ENOMEM;
	}
	return reader->combine(before, wanted, ret, ret_why);
}
