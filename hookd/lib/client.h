/* The client side of the socket, shared by the hook and hookctl: connect, one call, a deadline for all. */
#pragma once

#include "proto.h"

/* $HOOKD_SOCKET if set, else the compiled-in default. */
const char *client_socket_path(void);

/* Connect to path. -ENOENT / -ECONNREFUSED when the daemon is not there, -EAGAIN when its listen backlog is
 * full (it is busy). */
int client_connect(const char *path, int *ret_fd);
/* client_connect(), trying again while the backlog is full until timeout_ms from now; then -EAGAIN. */
int client_connect_wait(const char *path, unsigned timeout_ms, int *ret_fd);
/* Connect to path, waiting up to restart_ms for a daemon that is restarting: while the socket is missing
 * (-ENOENT) or nobody listens on it (-ECONNREFUSED), try again every CLIENT_RETRY_MS; a full backlog is waited
 * for up to timeout_ms, as client_connect_wait() does. Returns what the last attempt gave. For the hook, with
 * a VM hookd serves: an event sent while hookd restarts is then not lost. */
int client_connect_restarting(const char *path, unsigned restart_ms, unsigned timeout_ms, int *ret_fd);
#define CLIENT_RETRY_MS 50u
/* How long the hook waits for a restarting daemon (within its own timeout). */
#define CLIENT_RESTART_WAIT_MS 5000u

/* Send method(params) and wait for the reply until timeout_ms from now. params is taken.
 * -ETIMEDOUT if the daemon does not answer in time, -ECONNRESET if it closed the connection. */
int client_call(int fd, const char *method, json_object *params, unsigned timeout_ms, struct proto_reply *ret);
