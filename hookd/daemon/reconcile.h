/* Reconciliation: a release hookd never heard of (it was stopped, killed or restarting when libvirt sent
 * it) is carried out all the same. A pass, on a helper thread, looks for journaled VMs that libvirt (asked
 * read-only, with a bounded wait) says are not running and whose VFIO groups no process holds (found by
 * scanning PROC/<pid>/fd for /dev/vfio/N); the loop then releases each one that no request touched since the
 * pass began. libvirt unreachable means "don't know": nothing is released. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "engine.h"

struct reconcile_options {
	const char *libvirt_uri;       /* read-only connection; NULL or "none": reconciliation is off */
	const char *proc_root;	       /* "/proc" when NULL; tests point it at a fake tree */
	uint64_t libvirt_timeout_usec; /* a pass whose libvirt answer takes longer knows nothing */
};

/* Called on the loop for each VM the pass found to release. since_ms (monotonic) is when the pass began: a VM
 * with a request after it must be left alone. why is one line for the log. */
typedef void (*reconcile_release_fn)(void *userdata, const char *vm, const char *why, unsigned long long since_ms);

struct reconcile;

int reconcile_new(sd_event *event, struct engine *engine, const struct reconcile_options *opts,
		  reconcile_release_fn release, void *userdata, struct reconcile **ret);
/* Only when reconcile_busy() is false: a pass in progress still uses the engine. */
void reconcile_free(struct reconcile *r);
bool reconcile_busy(const struct reconcile *r);

/* Run a pass now, or right after the one in progress. reason is logged ("start-up", "VM x stopped"). */
void reconcile_request(struct reconcile *r, const char *reason);

/* {"libvirt_uri", "passes", "last"} for Status (a new object), or NULL when reconciliation is off. */
json_object *reconcile_status(const struct reconcile *r);
