/* From a request to an action: libvirt op -> engine call, one FIFO queue per VM, engine calls on worker
 * threads (results come back to the event loop through an eventfd), the running configuration and its
 * reload, and the status report. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "diag.h"
#include "engine.h"
#include "proto.h"

/* Last events remembered per VM, for io.hookd.Status. */
#define EVENTS_HISTORY 16

struct server;
struct events;

/* cfg is taken. */
int events_new(sd_event *event, struct engine *engine, const char *conf_dir, struct hookd_config *cfg,
	       struct events **ret);
void events_set_server(struct events *e, struct server *server);
void events_free(struct events *e);

/* The server's request handler (server_request_fn). */
void events_handle_request(void *userdata, uint64_t client_id, uid_t uid, struct proto_request *req);

/* Parse the whole configuration again and swap it in only when all of it is valid. On error the running
 * configuration stays, -EINVAL, and every problem is in diag. */
int events_reload(struct events *e, struct diag *diag);

/* Stop taking work: requests still queued are answered "stopping"; on_idle(userdata) is called once the
 * operations already running have finished (at once when none runs). */
void events_shutdown(struct events *e, void (*on_idle)(void *userdata), void *userdata);
unsigned events_running(const struct events *e);
