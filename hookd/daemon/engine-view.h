/* The engine's view of the devices for io.hookd.Status, read on a helper thread.
 * Reading a device's attributes can block for as long as the kernel holds that device's lock (an unbind whose
 * driver never lets go), and the event loop must never wait for that. One read runs at a time; a Status
 * request waits for it at most a bounded time and otherwise gets the last complete view, with its age.
 * A view whose read began before the last prepare or release finished is outdated (it may show that VM as
 * it was before): a request then waits longer for a read begun after, and an outdated view it still gets
 * says so. VMs whose devices are being moved are described from their journals only, never read. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "engine.h"

struct engine_view;

/* engine_vms: the engine's "vms" array (borrowed for the call; NULL when no view could be read yet).
 * age_usec: how old it is (0 for a view read for this request). outdated: its read began before the last
 * prepare or release finished. */
typedef void (*engine_view_fn)(void *userdata, json_object *engine_vms, uint64_t age_usec, bool outdated);

int engine_view_new(sd_event *event, struct engine *engine, struct engine_view **ret);
/* Only when engine_view_busy() is false: a read in progress still uses the engine. Requests still waiting
 * get their call, with no view. */
void engine_view_free(struct engine_view *v);
bool engine_view_busy(const struct engine_view *v);

/* Ask for a fresh view. busy_vms (NULL-terminated, copied): VMs with a prepare or release running, described
 * from their journals with every held device "moving". changed_usec: CLOCK_MONOTONIC (clock.h's
 * monotonic_usec) when the last prepare or release finished, 0 if none has. done(userdata, ...) is called
 * exactly once on the loop thread, within wait_usec, or within outdated_wait_usec when the last view is
 * outdated; if no current read has finished by then, with the last view. 0 or -errno (then done is not
 * called). */
int engine_view_get(struct engine_view *v, char *const *busy_vms, uint64_t changed_usec, uint64_t wait_usec,
		    uint64_t outdated_wait_usec, engine_view_fn done, void *userdata);
