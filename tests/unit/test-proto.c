/* The wire protocol: encode/decode, validation and limits, over a real socketpair(). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"
#include "test.h"
#include "util.h"

static int parse_event(const char *json, struct proto_request *req, struct proto_event *ev, const char **why)
{
	int r = proto_parse_request(json, strlen(json), req, why);

	if (r < 0)
		return r;
	return proto_event_from_params(req->params, ev, why);
}

static void test_ops(void)
{
	CHECK(hook_op_from_string("prepare") == HOOK_OP_PREPARE);
	CHECK(hook_op_from_string("reconnect") == HOOK_OP_RECONNECT);
	CHECK(hook_op_from_string("Prepare") == -EINVAL);
	CHECK(hook_op_from_string("") == -EINVAL);
	CHECK(hook_op_from_string(NULL) == -EINVAL);
	for (int i = 0; i < _HOOK_OP_MAX; i++)
		CHECK(hook_op_from_string(hook_op_to_string((enum hook_op)i)) == i);
	CHECK(hook_op_can_fail(HOOK_OP_PREPARE));
	CHECK(hook_op_can_fail(HOOK_OP_STARTED));
	CHECK(!hook_op_can_fail(HOOK_OP_RELEASE));
	CHECK(!hook_op_can_fail(HOOK_OP_STOPPED));
}

static void test_event_roundtrip(void)
{
	const char *xml = "<domain type='qemu'><name>win10</name></domain>";
	struct proto_request req = { 0 };
	struct proto_event ev;
	const char *why = NULL;
	json_object *msg;
	const char *s;

	msg = proto_build_request(HOOKD_METHOD_EVENT,
				  proto_build_event_params("win10", "prepare", "begin", "-", xml, strlen(xml)));
	CHECK(msg);
	s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	CHECK(proto_parse_request(s, strlen(s), &req, &why) == 0);
	CHECK(streq(req.method, HOOKD_METHOD_EVENT));
	CHECK(proto_event_from_params(req.params, &ev, &why) == 0);
	CHECK(streq(ev.vm, "win10"));
	CHECK(ev.op == HOOK_OP_PREPARE);
	CHECK(streq(ev.subop, "begin"));
	CHECK(streq(ev.extra, "-"));
	CHECK(ev.xml_len == strlen(xml) && streq(ev.xml, xml));
	proto_request_clear(&req);
	json_object_put(msg);
}

static void test_event_validation(void)
{
	static const struct {
		const char *json;
		const char *why_contains;
	} bad[] = {
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"../"
		  "etc\",\"op\":\"prepare\",\"subop\":\"begin\"}}",
		  "start with" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"x/../"
		  "etc\",\"op\":\"prepare\",\"subop\":\"begin\"}}",
		  "'/'" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"..\",\"op\":\"prepare\",\"subop\":\"begin\"}"
		  "}",
		  ".." },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"a/"
		  "b\",\"op\":\"prepare\",\"subop\":\"begin\"}}",
		  "'/'" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"\",\"op\":\"prepare\",\"subop\":\"begin\"}}",
		  "empty" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"op\":\"prepare\",\"subop\":\"begin\"}}", "vm" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":7,\"op\":\"prepare\",\"subop\":\"begin\"}}",
		  "vm" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"explode\",\"subop\":\"begin\"}"
		  "}",
		  "op" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\"}}", "subop" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"a\\nb\"}"
		  "}",
		  "subop" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"xml\":5}}",
		  "xml" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\\u0000x\",\"op\":\"prepare\",\"subop\":"
		  "\"begin\"}}",
		  "" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"xml\":\"a\\u0000b\"}}",
		  "NUL" },
		/* The hook's warnings: an array of one-line strings, bounded in number and length. */
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"warnings\":\"x\"}}",
		  "warnings" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"warnings\":[7]}}",
		  "warnings" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"warnings\":[\"\"]}}",
		  "warnings" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"warnings\":[\"a\\nb\"]}}",
		  "warnings" },
		{ "{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"prepare\",\"subop\":\"begin\","
		  "\"warnings\":[\"a\\u0000b\"]}}",
		  "warnings" },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct proto_request req = { 0 };
		struct proto_event ev;
		const char *why = NULL;
		int r = parse_event(bad[i].json, &req, &ev, &why);

		if (r == 0 || !why || !strstr(why, bad[i].why_contains)) {
			fprintf(stderr, "case %zu accepted or wrong reason: r=%d why=%s\n", i, r, why ? why : "(null)");
			exit(1);
		}
		proto_request_clear(&req);
	}
}

/* "warnings" up to its limits is accepted and handed over; one line too many or too long is not. */
static void test_event_warnings(void)
{
	char long_line[HOOKD_WARNING_MAX + 2];
	json_object *params, *warnings;
	struct proto_request req = { 0 };
	struct proto_event ev;
	const char *why = NULL, *s;
	json_object *msg;

	memset(long_line, 'w', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	for (int round = 0; round < 3; round++) {
		params = proto_build_event_params("w", "release", "end", "-", "", 0);
		warnings = json_object_new_array();
		for (int i = 0; i < HOOKD_WARNINGS_MAX + (round == 1); i++)
			json_object_array_add(warnings,
					      json_object_new_string_len(long_line, HOOKD_WARNING_MAX + (round == 2)));
		json_object_object_add(params, "warnings", warnings);
		msg = proto_build_request(HOOKD_METHOD_EVENT, params);
		s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
		CHECK(proto_parse_request(s, strlen(s), &req, &why) == 0);
		if (round == 0) {
			CHECK_INT(proto_event_from_params(req.params, &ev, &why), 0);
			CHECK(ev.warnings && json_object_array_length(ev.warnings) == HOOKD_WARNINGS_MAX);
		} else {
			CHECK_INT(proto_event_from_params(req.params, &ev, &why), -EINVAL);
			CHECK(strstr(why, "warnings"));
		}
		proto_request_clear(&req);
		json_object_put(msg);
	}
	/* Absent: NULL. */
	CHECK_INT(parse_event("{\"method\":\"io.hookd.Event\",\"parameters\":{\"vm\":\"w\",\"op\":\"release\","
			      "\"subop\":\"end\"}}",
			      &req, &ev, &why),
		  0);
	CHECK(ev.warnings == NULL);
	proto_request_clear(&req);
}

static void test_malformed_requests(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"42",
		"\"string\"",
		"{",
		"{\"method\":}",
		"{\"parameters\":{}}",
		"{\"method\":7}",
		"{\"method\":\"\"}",
		"{\"method\":\"io.hookd.Status\",\"parameters\":[]}",
		"{\"method\":\"io.hookd.Status\"} trailing",
		"{\"method\":\"io.hookd.Status\"}{\"method\":\"x\"}",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct proto_request req = { 0 };
		const char *why = NULL;

		if (proto_parse_request(bad[i], strlen(bad[i]), &req, &why) != -EBADMSG || !why) {
			fprintf(stderr, "malformed request %zu accepted: %s\n", i, bad[i]);
			exit(1);
		}
	}
	/* A NUL hidden inside the declared length is refused, not cut short. */
	{
		const char msg[] = "{\"method\":\"a\"}\0{}";
		struct proto_request req = { 0 };
		const char *why = NULL;

		CHECK(proto_parse_request(msg, sizeof(msg) - 1, &req, &why) == -EBADMSG);
	}
	/* Missing parameters become an empty object. */
	{
		const char *msg = "{\"method\":\"io.hookd.Status\"}";
		struct proto_request req = { 0 };
		const char *why = NULL;

		CHECK(proto_parse_request(msg, strlen(msg), &req, &why) == 0);
		CHECK(json_object_is_type(req.params, json_type_object));
		proto_request_clear(&req);
	}
}

static void test_xml_limit(void)
{
	size_t n = HOOKD_XML_MAX + 1;
	_cleanup_free_ char *xml = malloc(n + 1);
	struct proto_request req = { 0 };
	struct proto_event ev;
	const char *why = NULL, *s;
	json_object *msg;

	CHECK(xml);
	memset(xml, 'x', n);
	xml[n] = '\0';
	msg = proto_build_request(HOOKD_METHOD_EVENT, proto_build_event_params("w", "prepare", "begin", "-", xml, n));
	s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	CHECK(proto_parse_request(s, strlen(s), &req, &why) == 0);
	CHECK(proto_event_from_params(req.params, &ev, &why) == -EINVAL);
	CHECK(strstr(why, "xml"));
	proto_request_clear(&req);
	json_object_put(msg);
}

static void test_reply(void)
{
	struct proto_reply rep = { 0 };
	const char *why, *s;
	json_object *e;

	e = proto_build_error(HOOKD_ERROR_REFUSED, "VM %s: %s", "win10", "0000:0a:00.0 is in use");
	s = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
	CHECK(proto_parse_reply(s, strlen(s), &rep, &why) == 0);
	CHECK(streq(rep.error, HOOKD_ERROR_REFUSED));
	CHECK(streq(rep.message, "VM win10: 0000:0a:00.0 is in use"));
	proto_reply_clear(&rep);
	json_object_put(e);

	e = proto_build_reply(NULL);
	s = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
	CHECK(proto_parse_reply(s, strlen(s), &rep, &why) == 0);
	CHECK(rep.error == NULL && rep.message == NULL);
	proto_reply_clear(&rep);
	json_object_put(e);

	CHECK(proto_parse_reply("{\"error\":3}", 11, &rep, &why) == -EBADMSG);
}

/* The reader splits a byte stream at NULs, however the bytes arrive. */
static void test_reader_framing(void)
{
	int sv[2];
	struct proto_reader rd = { 0 };
	const char stream[] = "{\"a\":1}\0{\"b\":2}\0{\"c\"";
	const char *msg;
	size_t len;
	bool eof;
	int got = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	/* Byte by byte, to catch any assumption that a read returns a whole message. */
	for (size_t i = 0; i < sizeof(stream) - 1; i++) {
		CHECK(write(sv[1], stream + i, 1) == 1);
		CHECK(proto_reader_fill(&rd, sv[0], &eof) == 0 && !eof);
		while (proto_reader_next(&rd, &msg, &len) > 0) {
			got++;
			CHECK(len == 7);
			CHECK(memcmp(msg, got == 1 ? "{\"a\":1}" : "{\"b\":2}", 7) == 0);
		}
	}
	CHECK(got == 2);
	CHECK(proto_reader_partial(&rd));
	CHECK(proto_reader_fill(&rd, sv[0], &eof) == -EAGAIN);
	close(sv[1]);
	CHECK(proto_reader_fill(&rd, sv[0], &eof) == 0 && eof);
	/* EOF with buffered bytes: a truncated message. */
	CHECK(proto_reader_partial(&rd));
	proto_reader_clear(&rd);
	close(sv[0]);
}

struct flood {
	int fd;
	size_t bytes;
};

static void *flood_writer(void *p)
{
	struct flood *f = p;
	char buf[65536];
	size_t sent = 0;

	memset(buf, 'x', sizeof(buf));
	while (sent < f->bytes) {
		/* The reader closes its end once it refuses the message, often before the flood ends. */
		ssize_t n = send(f->fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	close(f->fd);
	return NULL;
}

/* A message that never ends is refused at the limit, not buffered forever. */
static void test_reader_oversize(void)
{
	struct proto_reader rd = { 0 };
	struct flood f;
	pthread_t t;
	int sv[2], r = 0;
	bool eof = false;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	f = (struct flood){ .fd = sv[1], .bytes = HOOKD_MSG_MAX + 65536 };
	CHECK(pthread_create(&t, NULL, flood_writer, &f) == 0);
	while (r == 0 && !eof)
		r = proto_reader_fill(&rd, sv[0], &eof);
	CHECK(r == -EMSGSIZE);
	CHECK(rd.cap <= HOOKD_MSG_MAX);
	close(sv[0]);
	pthread_join(t, NULL);
	proto_reader_clear(&rd);
}

struct echo_server {
	int fd;
	const char *reply; /* NULL: close without answering */
};

static void *echo_server(void *p)
{
	struct echo_server *s = p;
	char buf[4096];

	/* The pair is non-blocking for the client; the server must wait for the request, or it answers (and
	 * closes) before the request is written, which fails the call under load. */
	CHECK(fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK) == 0);
	(void)!read(s->fd, buf, sizeof(buf));
	if (s->reply)
		(void)!write(s->fd, s->reply, strlen(s->reply) + 1);
	close(s->fd);
	return NULL;
}

struct late_server {
	char path[108];
	int listen_fd;
};

/* Starts listening on path a little later, as a restarting hookd does. */
static void *listen_later(void *p)
{
	struct late_server *s = p;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	usleep(300 * 1000);
	strcpy(sa.sun_path, s->path);
	unlink(s->path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s->listen_fd >= 0);
	CHECK(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(s->listen_fd, 4) == 0);
	return NULL;
}

/* The hook waits for a daemon that is restarting (no socket yet, or a stale one nobody listens on), bounded. */
static void test_client_connect_restarting(void)
{
	char dir[] = "/tmp/hookd-test-connect-XXXXXX";
	struct late_server srv = { .listen_fd = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;
	int fd = -1, stale;

	CHECK(mkdtemp(dir));
	snprintf(srv.path, sizeof(srv.path), "%s/hookd.sock", dir);
	/* Nobody comes: the last error, after the wait. */
	CHECK_INT(client_connect_restarting(srv.path, 200, 200, &fd), -ENOENT);

	/* No socket at first. */
	CHECK(pthread_create(&t, NULL, listen_later, &srv) == 0);
	CHECK_INT(client_connect_restarting(srv.path, 30000, 30000, &fd), 0);
	pthread_join(t, NULL);
	close(fd);
	close(srv.listen_fd);

	/* A stale socket left by a killed daemon: connect is refused until the new one listens. */
	unlink(srv.path);
	strcpy(sa.sun_path, srv.path);
	stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(stale, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(stale);
	CHECK_INT(client_connect(srv.path, &fd), -ECONNREFUSED);
	CHECK(pthread_create(&t, NULL, listen_later, &srv) == 0);
	CHECK_INT(client_connect_restarting(srv.path, 30000, 30000, &fd), 0);
	pthread_join(t, NULL);
	close(fd);
	close(srv.listen_fd);
	unlink(srv.path);
	rmdir(dir);
}

static void test_client_call(void)
{
	struct echo_server srv;
	struct proto_reply rep = { 0 };
	pthread_t t;
	int sv[2];

	/* A real answer. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	srv = (struct echo_server){ .fd = sv[1], .reply = "{\"parameters\":{\"ok\":true}}" };
	CHECK(pthread_create(&t, NULL, echo_server, &srv) == 0);
	CHECK(client_call(sv[0], HOOKD_METHOD_STATUS, NULL, 5000, &rep) == 0);
	CHECK(rep.error == NULL);
	proto_reply_clear(&rep);
	pthread_join(t, NULL);
	close(sv[0]);

	/* The peer hangs up without a reply. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	srv = (struct echo_server){ .fd = sv[1], .reply = NULL };
	CHECK(pthread_create(&t, NULL, echo_server, &srv) == 0);
	CHECK(client_call(sv[0], HOOKD_METHOD_STATUS, NULL, 5000, &rep) == -ECONNRESET);
	pthread_join(t, NULL);
	close(sv[0]);

	/* The peer never answers: the deadline holds. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(client_call(sv[0], HOOKD_METHOD_STATUS, NULL, 100, &rep) == -ETIMEDOUT);
	close(sv[0]);
	close(sv[1]);

	/* Nobody listening at a path. */
	{
		int fd = -1;
		CHECK(client_connect("/nonexistent/hookd.sock", &fd) == -ENOENT);
	}
}

int main(void)
{
	/* Peers in these tests close while the other side still writes: EPIPE, not a killed test. */
	signal(SIGPIPE, SIG_IGN);
	test_ops();
	test_event_roundtrip();
	test_event_validation();
	test_event_warnings();
	test_malformed_requests();
	test_xml_limit();
	test_reply();
	test_reader_framing();
	test_reader_oversize();
	test_client_call();
	test_client_connect_restarting();
	printf("test-proto: all checks passed\n");
	return 0;
}
