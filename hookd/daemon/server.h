/* The daemon's socket: accepts clients, reads NUL-framed requests, checks the peer's credentials against the
 * method, and hands each request to a handler that answers it later with server_reply().
 * One request per client is outstanding at a time: the next one is read after its reply was written, and
 * each client hands over at most one request per turn of the event loop. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "proto.h"

/* Most clients at once; more are accepted and closed at once (logged), so a flood cannot exhaust fds.
 * SERVER_ROOT_RESERVED of them only uid 0 may take, and any other uid holds at most SERVER_MAX_CLIENTS_PER_UID:
 * the hook always gets a slot. */
#define SERVER_MAX_CLIENTS 1024u
#define SERVER_ROOT_RESERVED 64u
#define SERVER_MAX_CLIENTS_PER_UID 16u
/* Non-root clients may only ask Status and Check: their requests are small, and so is what they may make
 * hookd hold for them (bytes, NUL included). Root's limit is HOOKD_MSG_MAX (the domain XML). */
#define SERVER_UNTRUSTED_MSG_MAX (64u * 1024u)
#define SERVER_UNTRUSTED_REPLY_MAX (4u * 1024u * 1024u)

struct server;

/* Called for each authorized request with a known method. The handler owns req (proto_request_clear) and must
 * call server_reply(client_id, ...) exactly once, now or later. */
typedef void (*server_request_fn)(void *userdata, uint64_t client_id, uid_t uid, struct proto_request *req);

/* listen_fd is taken (closed by server_free). */
int server_new(sd_event *event, int listen_fd, server_request_fn handler, void *userdata, struct server **ret);
void server_free(struct server *s);

/* Queue reply (taken) for the client. -ENOENT when that client has gone (the reply is dropped). */
int server_reply(struct server *s, uint64_t client_id, json_object *reply);

/* How long a client may take to send a complete request after connecting or after its last reply (0: no
 * limit). Applies to clients accepted afterwards. */
void server_set_client_timeout(struct server *s, uint64_t usec);
#define SERVER_DEFAULT_CLIENT_TIMEOUT_USEC (30ull * 1000000ull)

/* Stop accepting new connections (shutdown); clients already connected are still answered. */
void server_stop_accepting(struct server *s);
unsigned server_n_clients(const struct server *s);

/* True for the methods only uid 0 may call. */
bool server_method_needs_root(const char *method);
