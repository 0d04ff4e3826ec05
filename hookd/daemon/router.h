/* The daemon's router: each request goes by its method and, for libvirt's events, by one table (op, subop ->
 * engine action) to a job, to the Status reply or to a reload. It holds the running configuration and swaps
 * it in whole on reload. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "diag.h"
#include "engine.h"
#include "proto.h"

struct server;
struct router;

/* cfg is taken, also on error. 0, or -ENOMEM / -errno of the eventfd. */
int router_new(sd_event *event, struct engine *engine, const char *conf_dir, struct hookd_config *cfg,
	       struct router **ret);
void router_set_server(struct router *r, struct server *server);
void router_free(struct router *r);

/* Log the problems a configuration from hookd_config_load_each() has: the VMs it disables, the defaults it
 * falls back to. */
void router_log_config_problems(const struct hookd_config *cfg);

struct reconcile;
/* Where the router asks for reconciliation passes (on libvirt's reconnect and whenever a VM stopped). */
void router_set_reconcile(struct router *r, struct reconcile *rec);
/* reconcile_release_fn: release VM unless a request for it arrived since since_ms or one is pending. */
void router_reconcile_release(void *userdata, const char *vm, const char *why, unsigned long long since_ms);

/* The server's request handler (server_request_fn). */
void router_handle_request(void *userdata, uint64_t client_id, uid_t uid, struct proto_request *req);

/* Parse the whole configuration again and swap it in only when all of it is valid. On error the running
 * configuration stays, -EINVAL, and every problem is in diag. */
int router_reload(struct router *r, struct diag *diag);

/* Stop taking work: requests still queued are answered "stopping"; on_idle(userdata) is called once the
 * operations already running have finished (at once when none runs). */
void router_shutdown(struct router *r, void (*on_idle)(void *userdata), void *userdata);
/* Operations running on worker threads now. */
unsigned router_running(const struct router *r);
/* True when no thread (an operation or a status read) still uses the engine: then it may be freed. */
bool router_threads_done(const struct router *r);
