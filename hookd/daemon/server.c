#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "util.h"

static const struct {
	const char *name;
	bool needs_root;
} methods[] = {
	{ HOOKD_METHOD_EVENT, true },  { HOOKD_METHOD_PREPARE, true }, { HOOKD_METHOD_RELEASE, true },
	{ HOOKD_METHOD_RELOAD, true }, { HOOKD_METHOD_STATUS, false }, { HOOKD_METHOD_CHECK, false },
};

struct client {
	struct client *next; /* owned by server.clients */
	struct server *server;
	uint64_t id;
	int fd;
	uid_t uid;
	pid_t pid;
	sd_event_source *io;
	sd_event_source *idle; /* closes a client that sends no complete request in time; off while busy */
	struct proto_reader reader;
	bool busy;	  /* a request is with the handler; its reply has not been queued yet */
	bool close_after; /* a protocol error: close once the reply is written */
	bool eof;
	bool dispatching; /* inside the handler call: a reply is queued, not written */
	bool ready;	  /* a complete request is buffered and waits for its turn (server.take_ready) */
	char *out;	  /* serialized replies not yet written */
	size_t out_len;
	size_t out_off;
};

struct server {
	sd_event *event;
	int listen_fd;
	sd_event_source *listen_io;
	sd_event_source *take_ready;  /* deferred: hands each ready client's next request over, one per turn */
	unsigned refused_connections; /* over a limit since the last log line about it */
	struct client *clients;
	unsigned n_clients;
	uint64_t next_id;
	uint64_t client_timeout_usec; /* 0: no limit */
	server_request_fn handler;
	void *userdata;
};

bool server_method_needs_root(const char *method)
{
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (streq(method, methods[i].name))
			return methods[i].needs_root;
	return true;
}

static bool method_known(const char *method)
{
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (streq(method, methods[i].name))
			return true;
	return false;
}

static void client_free(struct client *c)
{
	struct server *s = c->server;

	for (struct client **p = &s->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	s->n_clients--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->idle);
	close(c->fd);
	proto_reader_clear(&c->reader);
	free(c->out);
	free(c);
}

static struct client *client_find(struct server *s, uint64_t id)
{
	for (struct client *c = s->clients; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* A client may hand over its next request only when nothing of its previous one is outstanding: not with the
 * handler and its reply fully written. Until then nothing more is read from it, so a client that pipelines
 * requests without reading the replies costs one request and one reply, not more. */
static bool client_can_take(const struct client *c)
{
	return !c->busy && !c->close_after && c->out_off >= c->out_len;
}

/* What to wait for next: writable while output is pending, readable when it may send more, nothing while busy
 * or while a buffered request waits for its turn (then the server's take_ready source is armed). */
static void client_update_events(struct client *c)
{
	uint32_t ev = 0;
	bool buffered = proto_reader_has_message(&c->reader);

	if (c->out_len > c->out_off)
		ev = EPOLLOUT;
	else if (client_can_take(c) && !c->eof && !buffered)
		ev = EPOLLIN;
	sd_event_source_set_io_events(c->io, ev);
	if (client_can_take(c) && buffered) {
		c->ready = true;
		sd_event_source_set_enabled(c->server->take_ready, SD_EVENT_ONESHOT);
	}
}

static int client_queue(struct client *c, json_object *reply)
{
	const char *s;
	size_t len;
	char *grown;

	s = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		return -ENOMEM;
	if (c->uid != 0 && len + 1 > SERVER_UNTRUSTED_REPLY_MAX) {
		log_warning("client pid %d uid %u: a %zu-byte reply is over the %u-byte limit for non-root clients",
			    (int)c->pid, (unsigned)c->uid, len + 1, SERVER_UNTRUSTED_REPLY_MAX);
		return -EMSGSIZE;
	}
	if (c->out_off > 0 && c->out_off == c->out_len) {
		c->out_len = c->out_off = 0;
	}
	grown = realloc(c->out, c->out_len + len + 1);
	if (!grown)
		return -ENOMEM;
	c->out = grown;
	memcpy(c->out + c->out_len, s, len + 1); /* with the NUL that frames it */
	c->out_len += len + 1;
	return 0;
}

/* Answer directly from the server (errors that never reach the handler). */
static void client_error(struct client *c, bool close_after, const char *error, const char *message)
{
	json_object *reply = proto_build_error(error, "%s", message);

	if (!reply || client_queue(c, reply) < 0)
		c->close_after = true;
	json_object_put(reply);
	if (close_after)
		c->close_after = true;
}

/* Write what is pending. Returns <0 when the client must go. */
static int client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	if (c->close_after || (c->eof && !c->busy && !proto_reader_has_message(&c->reader)))
		return -ECONNRESET;
	return 0;
}

static void client_dispatch(struct client *c, const char *msg, size_t len)
{
	struct proto_request req = { 0 };
	const char *why = NULL;

	if (proto_parse_request(msg, len, &req, &why) < 0) {
		char text[512];

		log_warning("client pid %d uid %u: malformed request: %s", (int)c->pid, (unsigned)c->uid,
			    why ? why : "unknown");
		snprintf(text, sizeof(text), "malformed request: %s", why ? why : "unknown");
		client_error(c, true, HOOKD_ERROR_PROTOCOL, text);
		return;
	}
	if (!method_known(req.method)) {
		char text[512];

		snprintf(text, sizeof(text), "unknown method %s", req.method);
		client_error(c, false, HOOKD_ERROR_METHOD, text);
		proto_request_clear(&req);
		return;
	}
	if (server_method_needs_root(req.method) && c->uid != 0) {
		json_object *reply = proto_build_error(HOOKD_ERROR_PERMISSION, "%s needs root; the caller is uid %u",
						       req.method, (unsigned)c->uid);

		log_warning("refused %s from pid %d uid %u: not root", req.method, (int)c->pid, (unsigned)c->uid);
		if (!reply || client_queue(c, reply) < 0)
			c->close_after = true;
		json_object_put(reply);
		proto_request_clear(&req);
		return;
	}
	c->busy = true;
	/* The handler may take as long as its operation's own deadline: the idle limit does not apply. */
	if (c->idle)
		sd_event_source_set_enabled(c->idle, SD_EVENT_OFF);
	/* A reply given from inside the handler is only queued (see server_reply): c stays valid here. */
	c->dispatching = true;
	c->server->handler(c->server->userdata, c->id, c->uid, &req);
	c->dispatching = false;
}

/* Hand over the next buffered request, if the client may send one now. <0: the client must go. */
static int client_take_one(struct client *c)
{
	const char *msg;
	size_t len;

	if (client_can_take(c) && proto_reader_next(&c->reader, &msg, &len) > 0)
		client_dispatch(c, msg, len);
	if (c->eof && client_can_take(c) && !proto_reader_has_message(&c->reader) && proto_reader_partial(&c->reader)) {
		log_warning("client pid %d: connection closed inside a message", (int)c->pid);
		return -ECONNRESET;
	}
	return 0;
}

/* Read until one whole request is buffered (or nothing more is there), then hand that one over. */
static int client_read(struct client *c)
{
	/* Bounded, so one fast writer cannot starve the others. */
	for (int rounds = 0; rounds < 64 && client_can_take(c) && !c->eof && !proto_reader_has_message(&c->reader);
	     rounds++) {
		int r = proto_reader_fill(&c->reader, c->fd, &c->eof);

		if (r == -EAGAIN)
			break;
		if (r == -EMSGSIZE) {
			log_warning("client pid %d uid %u: message larger than %zu bytes", (int)c->pid,
				    (unsigned)c->uid, c->reader.max);
			client_error(c, true, HOOKD_ERROR_PROTOCOL,
				     c->uid == 0 ? "message larger than the 4 MiB limit"
						 : "message larger than the 64 KiB limit for non-root clients");
			return 0;
		}
		if (r < 0)
			return r;
	}
	return client_take_one(c);
}

static int client_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct client *c = userdata;
	int r = 0;

	if (revents & EPOLLIN)
		r = client_read(c);
	else if (revents & (EPOLLHUP | EPOLLERR) && c->out_off >= c->out_len)
		/* Gone while its request is with the handler: the reply will be dropped. */
		r = -ECONNRESET;
	if (r >= 0)
		r = client_flush(c);
	if (r < 0) {
		client_free(c);
		return 0;
	}
	client_update_events(c);
	return 0;
}

/* A client that holds a connection without finishing a request would keep a slot (and a half-read buffer)
 * forever: past the limit it gets one error line and is closed. */
static int client_idle_timeout(sd_event_source *source, uint64_t usec, void *userdata)
{
	struct client *c = userdata;
	struct server *s = c->server;
	char text[128];

	log_warning("client pid %d uid %u: no complete request within %llu ms; closing the connection", (int)c->pid,
		    (unsigned)c->uid, (unsigned long long)(s->client_timeout_usec / 1000));
	snprintf(text, sizeof(text), "no complete request within %llu ms",
		 (unsigned long long)(s->client_timeout_usec / 1000));
	client_error(c, true, HOOKD_ERROR_PROTOCOL, text);
	(void)client_flush(c);
	client_free(c);
	return 0;
}

/* Start (or restart) the idle limit: from now, the client has client_timeout to send a whole request. */
static void client_arm_idle(struct client *c)
{
	if (!c->idle)
		return;
	sd_event_source_set_time_relative(c->idle, c->server->client_timeout_usec);
	sd_event_source_set_enabled(c->idle, SD_EVENT_ONESHOT);
}

/* One request from each client that has one buffered, then back to the loop: a client pipelining requests
 * gets one per turn, like everybody else. Clients are found by id: answering one request can finish (and
 * free) other clients. */
static int server_take_ready(sd_event_source *source, void *userdata)
{
	struct server *s = userdata;
	uint64_t ids[SERVER_MAX_CLIENTS];
	size_t n = 0;

	for (struct client *c = s->clients; c && n < ELEMENTSOF(ids); c = c->next)
		if (c->ready) {
			c->ready = false;
			ids[n++] = c->id;
		}
	for (size_t i = 0; i < n; i++) {
		struct client *c = client_find(s, ids[i]);
		int r;

		if (!c)
			continue;
		r = client_take_one(c);
		if (r >= 0)
			r = client_flush(c);
		if (r < 0) {
			client_free(c);
			continue;
		}
		client_update_events(c);
	}
	return 0;
}

static unsigned clients_of_uid(const struct server *s, uid_t uid)
{
	unsigned n = 0;

	for (const struct client *c = s->clients; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* Root (the hook, hookctl's writes) always finds a slot: others share what is left of SERVER_MAX_CLIENTS
 * after SERVER_ROOT_RESERVED, at most SERVER_MAX_CLIENTS_PER_UID each. */
static bool server_has_room(const struct server *s, uid_t uid)
{
	if (uid == 0)
		return s->n_clients < SERVER_MAX_CLIENTS;
	return s->n_clients < SERVER_MAX_CLIENTS - SERVER_ROOT_RESERVED &&
	       clients_of_uid(s, uid) < SERVER_MAX_CLIENTS_PER_UID;
}

static int server_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;

	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct client *c;
		int cfd, r;

		cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning("accept: %s", strerror(errno));
			return 0;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warning("SO_PEERCRED: %s", strerror(errno));
			close(cfd);
			continue;
		}
		if (!server_has_room(s, cred.uid)) {
			/* One line per burst, not one per connection of a flood. */
			if (s->refused_connections++ % 256 == 0)
				log_warning(
					"too many clients (%u, uid %u has %u): closing a new connection from pid %d",
					s->n_clients, (unsigned)cred.uid, clients_of_uid(s, cred.uid), (int)cred.pid);
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			return 0;
		}
		c->server = s;
		c->id = ++s->next_id;
		c->fd = cfd;
		c->uid = cred.uid;
		c->pid = cred.pid;
		if (c->uid != 0)
			c->reader.max = SERVER_UNTRUSTED_MSG_MAX;
		r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, client_io, c);
		if (r >= 0 && s->client_timeout_usec > 0)
			r = sd_event_add_time_relative(s->event, &c->idle, CLOCK_MONOTONIC, s->client_timeout_usec, 0,
						       client_idle_timeout, c);
		if (r < 0) {
			sd_event_source_disable_unref(c->io);
			close(cfd);
			free(c);
			log_warning("cannot watch a client: %s", strerror(-r));
			return 0;
		}
		c->next = s->clients;
		s->clients = c;
		s->n_clients++;
	}
}

int server_new(sd_event *event, int listen_fd, server_request_fn handler, void *userdata, struct server **ret)
{
	struct server *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		close(listen_fd);
		return -ENOMEM;
	}
	s->event = sd_event_ref(event);
	s->listen_fd = listen_fd;
	s->handler = handler;
	s->userdata = userdata;
	r = sd_event_add_io(event, &s->listen_io, listen_fd, EPOLLIN, server_accept, s);
	if (r >= 0)
		r = sd_event_add_defer(event, &s->take_ready, server_take_ready, s);
	if (r >= 0)
		r = sd_event_source_set_enabled(s->take_ready, SD_EVENT_OFF);
	if (r < 0) {
		server_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void server_set_client_timeout(struct server *s, uint64_t usec)
{
	s->client_timeout_usec = usec;
}

void server_stop_accepting(struct server *s)
{
	s->listen_io = sd_event_source_disable_unref(s->listen_io);
}

unsigned server_n_clients(const struct server *s)
{
	return s->n_clients;
}

int server_reply(struct server *s, uint64_t client_id, json_object *reply)
{
	struct client *c = client_find(s, client_id);
	int r;

	if (!c) {
		json_object_put(reply);
		return -ENOENT;
	}
	r = client_queue(c, reply);
	json_object_put(reply);
	if (r == -EMSGSIZE) {
		client_error(c, false, HOOKD_ERROR_FAILED, "the reply is over the size limit for non-root clients");
		r = 0;
	}
	c->busy = false;
	client_arm_idle(c);
	if (r < 0)
		c->close_after = true;
	if (c->dispatching)
		return 0;
	/* A later reply: write it now; what the client already sent after its request waits for its turn. */
	r = client_flush(c);
	if (r < 0) {
		client_free(c);
		return 0;
	}
	client_update_events(c);
	return 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	while (s->clients)
		client_free(s->clients);
	sd_event_source_disable_unref(s->listen_io);
	sd_event_source_disable_unref(s->take_ready);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	sd_event_unref(s->event);
	free(s);
}
