#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		/* Room for one byte past MAX, so that an oversized input is seen, and for the NUL. */
		if (cap - len < 4096 && cap < max + 2) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *grown;

			if (ncap > max + 2)
				ncap = max + 2;
			grown = realloc(buf, ncap);
			if (!grown)
				return -ENOMEM;
			buf = grown;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return negative_errno();
	return read_full_fd(fd, max, ret, ret_len);
}

int read_text_fd(int fd, size_t max, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len;
	int r;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((unsigned long long)st.st_size > max)
		return -EFBIG;
	/* Read until EOF rather than trusting st_size: the file may grow while we read. */
	r = read_full_fd(fd, max, &buf, &len);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	return 0;
}

int read_text_file(const char *path, size_t max, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return negative_errno();
	return read_text_fd(fd, max, ret);
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fsync_directory(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return negative_errno();
	return 0;
}

static int write_atomic(const char *dir, const char *name, const char *text, mode_t mode, bool replace)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	r = write_full(fd, text, strlen(text));
	if (r >= 0 && fchmod(fd, mode) < 0)
		r = negative_errno();
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	/* Without replace, link() refuses atomically if someone created the file meanwhile. */
	if (r >= 0 && (replace ? rename(tmp, path) : link(tmp, path)) < 0)
		r = negative_errno();
	if (r < 0 || !replace)
		(void)unlink(tmp);
	if (r < 0)
		return r;
	/* The new name is only durable once the directory is. */
	return fsync_directory(dir);
}

int write_file_atomic(const char *dir, const char *name, const char *text, mode_t mode)
{
	return write_atomic(dir, name, text, mode, true);
}

int write_file_atomic_new(const char *dir, const char *name, const char *text, mode_t mode)
{
	return write_atomic(dir, name, text, mode, false);
}
