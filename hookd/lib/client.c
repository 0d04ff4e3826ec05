#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hookd-config.h"
#include "client.h"
#include "clock.h"
#include "util.h"

const char *client_socket_path(void)
{
	const char *p = getenv("HOOKD_SOCKET");

	return p && *p ? p : HOOKD_SOCKET_PATH;
}

int client_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect completes or fails at once. EAGAIN is a full listen backlog: the socket is NOT
	 * connected, so it is no use to the caller (a write would fail with ENOTCONN). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int client_connect_wait(const char *path, unsigned timeout_ms, int *ret_fd)
{
	unsigned long long deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		unsigned long long now;
		int r = client_connect(path, ret_fd);

		if (r != -EAGAIN)
			return r;
		/* The kernel does not say when the backlog drains: try again shortly, until the deadline. */
		now = monotonic_ms();
		if (now >= deadline)
			return -EAGAIN;
		(void)poll(NULL, 0, (int)(deadline - now < 20 ? deadline - now : 20));
	}
}

int client_connect_restarting(const char *path, unsigned restart_ms, unsigned timeout_ms, int *ret_fd)
{
	unsigned long long start = monotonic_ms(), deadline = start + timeout_ms;
	unsigned long long restart_deadline = start + (restart_ms < timeout_ms ? restart_ms : timeout_ms);

	for (;;) {
		unsigned long long now = monotonic_ms();
		int r = client_connect_wait(path, now < deadline ? (unsigned)(deadline - now) : 0, ret_fd);

		if ((r != -ENOENT && r != -ECONNREFUSED) || monotonic_ms() >= restart_deadline)
			return r;
		usleep(CLIENT_RETRY_MS * 1000);
	}
}

int client_call(int fd, const char *method, json_object *params, unsigned timeout_ms, struct proto_reply *ret)
{
	unsigned long long deadline = monotonic_ms() + timeout_ms;
	struct proto_reader reader = { 0 };
	json_object *req;
	int r;

	req = proto_build_request(method, params);
	if (!req)
		return -ENOMEM;
	r = proto_write(fd, req, deadline);
	json_object_put(req);
	if (r == -EPIPE)
		r = -ECONNRESET;
	if (r < 0)
		return r;

	for (;;) {
		const char *msg, *why;
		size_t len;
		bool eof;

		if (proto_reader_next(&reader, &msg, &len) > 0) {
			r = proto_parse_reply(msg, len, ret, &why);
			proto_reader_clear(&reader);
			return r < 0 ? -EBADMSG : 0;
		}
		r = proto_reader_fill(&reader, fd, &eof);
		if (r == -EAGAIN || r == -EINTR) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			unsigned long long now = monotonic_ms();

			if (now >= deadline) {
				r = -ETIMEDOUT;
				break;
			}
			if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
				r = -errno;
				break;
			}
			continue;
		}
		if (r < 0)
			break;
		if (eof) {
			r = -ECONNRESET;
			break;
		}
	}
	proto_reader_clear(&reader);
	return r;
}
