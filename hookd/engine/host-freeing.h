/* Freeing a VM's devices on request (issue 12; hookd.vm.ini(5): stop-units, end-sessions, inhibit-sleep,
 * holders-timeout), as host changes (host-change.h) in this order:
 *   sleep-inhibited "sleep"   a logind "block" sleep inhibitor, taken first and given back last: suspending the
 *                             host with a GPU detached breaks its return. Held by hookd's process (the fd),
 *                             taken again by recovery for a VM still prepared after hookd restarted.
 *   unit-stopped UNIT         each of stop-units in the order given: before = its ActiveState; a unit that was
 *                             not running is recorded and never started afterwards. Shared: two VMs stopping
 *                             the same unit start it when the last one lets go.
 *   session-ended SEAT        the graphical login sessions (x11, wayland, mir) on the seat of each GPU the VM
 *                             takes (udev's ID_SEAT of its DRM card, seat0 when it has none): before = the
 *                             sessions found, applied = those ended. Nothing to restore (the user logs in
 *                             again); status shows what was ended.
 *   holders-gone ADDRESS      for each device, a wait of at most holders-timeout for the processes holding its
 *                             nodes to go; prepare is refused naming those left. Never kills anything.
 * Units and sessions go through struct host_bus only (systemd and logind over sd-bus). */
#pragma once

#include "config.h"
#include "diag.h"
#include "host-change.h"
#include "host-changes.h"
#include "plan.h"

/* The read halves (host-units.c, host-sessions.c, host-inhibit.c, host-holders-gone.c). */
extern const struct host_change_reader host_unit_stopped_reader;
extern const struct host_change_reader host_session_ended_reader;
extern const struct host_change_reader host_sleep_inhibited_reader;
extern const struct host_change_reader host_holders_gone_reader;
/* The write halves (the same names with -write.c). */
extern const struct host_change_writer host_unit_stopped_writer;
extern const struct host_change_writer host_session_ended_writer;
extern const struct host_change_writer host_sleep_inhibited_writer;
extern const struct host_change_writer host_holders_gone_writer;

/* The planners, in apply order (host-freeing-plan.c): the inhibitor, stop-units, end-sessions (P's devices
 * must be resolved: their DRM cards name the seats), and the wait for holders. 0 or -errno. */
int host_inhibit_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag);
int host_units_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag);
int host_sessions_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag);
int host_holders_gone_plan(struct host_context *ctx, const struct vm_config *vm, struct plan *p, struct diag *diag);

/* Whether P waits for the holders of ADDRESS to go (it has holders-gone ADDRESS): the check phase then
 * reports that device's processes as to be waited for rather than refusing. */
bool plan_awaits_holders(const struct plan *p, const char *address);

/* The seat of the DRM card whose sysfs directory is CARD_DIR (".../0000:0a:00.0/drm/card0"): udev's ID_SEAT
 * from its database entry (UDEV_DATA_DIR/c<major>:<minor>, "E:ID_SEAT=seat1"), "seat0" when it has none or
 * UDEV_DATA_DIR is NULL (a fixture tree: only the running system's udev knows its cards). Caller frees.
 * 0 or -ENOMEM. */
int drm_card_seat(const char *card_dir, const char *udev_data_dir, char **ret);

/* The holders of the PCI function ADDRESS now (holders_scan_within under CTX's roots, bounded by TIMEOUT_MS).
 * -ENODEV when it is not there; otherwise as holders_scan_within. */
struct holders;
int holders_gone_scan(const struct host_context *ctx, const char *address, unsigned timeout_ms, struct holders *ret);

/* ActiveState values of a unit that runs (or is on its way up): the ones stop-units stops and starts again. */
bool unit_state_running(const char *state);
