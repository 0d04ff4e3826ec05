/* A stand-in for hookd that answers every request on its socket with the bytes of one file, so hookctl can
 * be shown replies the real daemon never sends (wrong types, missing fields, no JSON at all).
 * usage: fake-hookd SOCKET REPLY_FILE    (runs until killed; the socket exists once it listens) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char reply[1 << 20];
	size_t reply_len;
	FILE *f;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: fake-hookd SOCKET REPLY_FILE\n");
		return 2;
	}
	f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	reply_len = fread(reply, 1, sizeof(reply) - 1, f);
	fclose(f);
	/* Replies are NUL-terminated on the wire; a file ending in a newline has it dropped. */
	if (reply_len > 0 && reply[reply_len - 1] == '\n')
		reply_len--;
	reply[reply_len++] = '\0';

	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		char buf[4096];
		ssize_t n;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		/* Read the request up to its NUL, then answer. */
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (memchr(buf, '\0', (size_t)n))
				break;
		if (n > 0 && write(c, reply, reply_len) < 0)
			perror("write");
		close(c);
	}
}
