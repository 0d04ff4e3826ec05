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

/* Send method(params) and wait for the reply until timeout_ms from now. params is taken.
 * -ETIMEDOUT if the daemon does not answer in time, -ECONNRESET if it closed the connection. */
int client_call(int fd, const char *method, json_object *params, unsigned timeout_ms, struct proto_reply *ret);
