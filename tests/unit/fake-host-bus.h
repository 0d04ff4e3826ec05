/* A fake systemd and logind behind struct host_bus (host-bus.h) for the engine's unit tests, as the fake kernel
 * is for sysfs: units with an ActiveState and a runtime AllowedCPUs, login sessions on seats, sleep
 * inhibitors, every call recorded in order, and a failure injectable per call. Nothing here talks to a real
 * bus. Thread-safe (the engine calls from its worker threads).
 *
 * What it does, as systemd and logind do:
 * - unit_state: the unit's ActiveState; -ENOENT for a unit never added ("Unit x.service not found.");
 * - stop_unit: ActiveState becomes "inactive" (a unit already inactive stays so; the call succeeds);
 * - start_unit: a "failed" unit is reset first (logged as "reset-failed UNIT"), then becomes "active";
 * - get_allowed_cpus: the runtime AllowedCPUs set last, "" when never set (systemd shows an unset one so);
 * - set_allowed_cpus: stores the value; "" is refused with -EINVAL (the contract never writes it);
 * - list_sessions: the ids of the sessions added on that seat, in the order they were added;
 * - terminate_session: the session goes; -ENOENT for one that does not exist;
 * - inhibit: a pipe's read end is the inhibitor fd; it is held until the caller closes that fd.
 * A unit or session id in a call must be one the test added, else -ENOENT. */
#pragma once

#include <stdbool.h>

#include "host-bus.h"

enum fhb_call {
	FHB_UNIT_STATE,
	FHB_STOP_UNIT,
	FHB_START_UNIT,
	FHB_GET_ALLOWED_CPUS,
	FHB_SET_ALLOWED_CPUS,
	FHB_LIST_SESSIONS,
	FHB_TERMINATE_SESSION,
	FHB_INHIBIT,
	_FHB_CALL_MAX,
};

struct fake_host_bus;

/* An empty bus: no units, no sessions. Aborts the test on failure. */
struct fake_host_bus *fhb_new(void);
/* Frees it, closing the ends of the inhibitors it made. */
void fhb_free(struct fake_host_bus *b);
/* What to pass as engine_options.host_bus. */
const struct host_bus *fhb_bus(struct fake_host_bus *b);

/* A unit with ActiveState STATE ("active", "inactive", "failed"); again for a known unit sets its state. */
void fhb_add_unit(struct fake_host_bus *b, const char *unit, const char *state);
/* UNIT's stop and start jobs take MS (a display manager that needs seconds to let go): the call waits for
 * them, and one whose timeout_ms is shorter fails with -ETIMEDOUT after timeout_ms, the unit left
 * "deactivating" or "activating" (the job goes on in systemd). */
void fhb_unit_job_takes(struct fake_host_bus *b, const char *unit, unsigned ms);
/* The unit's ActiveState now, or NULL when there is no such unit. Valid until the next call on B. */
const char *fhb_unit_state(struct fake_host_bus *b, const char *unit);
/* The unit's runtime AllowedCPUs ("" when unset; NULL when no such unit), and setting it as boot left it. */
const char *fhb_allowed_cpus(struct fake_host_bus *b, const char *unit);
void fhb_set_allowed_cpus(struct fake_host_bus *b, const char *unit, const char *cpus);

/* A graphical login session ID on SEAT. */
void fhb_add_session(struct fake_host_bus *b, const char *id, const char *seat);
bool fhb_session_exists(struct fake_host_bus *b, const char *id);
/* How many inhibitors are held now (their fds not yet closed). */
unsigned fhb_inhibitors_held(struct fake_host_bus *b);

/* The next call of kind CALL whose unit, seat, session or inhibitor WHAT is ARG (NULL: any) fails with ERROR (-errno), with
 * WHY as its one line ("" for none); after COUNT matching calls that go through first (fhb_fail: 0). The
 * failing call changes nothing and is logged with " FAILED" appended. */
void fhb_fail(struct fake_host_bus *b, enum fhb_call call, const char *arg, int error, const char *why);
void fhb_fail_after(struct fake_host_bus *b, enum fhb_call call, const char *arg, int error, const char *why,
		    unsigned count);

/* Every call, one per line in order: "unit-state UNIT", "stop UNIT", "reset-failed UNIT", "start UNIT",
 * "get-allowed-cpus UNIT", "set-allowed-cpus UNIT CPUS", "list-sessions SEAT", "terminate SESSION",
 * "inhibit WHAT". Owned by B; valid until the next call on B. */
const char *fhb_log(struct fake_host_bus *b);
void fhb_log_clear(struct fake_host_bus *b);
/* FN(USERDATA, LINE) for each call as it is logged (LINE as fhb_log has it), before the call takes effect:
 * to merge the bus's calls with the fake kernel's writes in one order, or to act as the host would when a
 * unit stops (its processes go). Called with B's lock held: FN must not call B. NULL: none. */
void fhb_observe(struct fake_host_bus *b, void (*fn)(void *userdata, const char *line), void *userdata);
