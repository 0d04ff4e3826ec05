#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trust.h"
#include "util.h"

static bool owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* 0, or -EPERM with the one line that names what is wrong with NAME and how to fix it. */
static int judge(const char *name, const struct stat *st, char **ret_why)
{
	int r;

	if (!owner_trusted(st->st_uid))
		r = asprintf(ret_why, "%s is owned by uid %u, not root: refused; fix: chown root:root %s", name,
			     (unsigned)st->st_uid, name);
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		r = asprintf(ret_why, "%s is writable by group or others (mode %04o): refused; fix: chmod go-w %s",
			     name, (unsigned)(st->st_mode & 07777), name);
	else
		return 0;
	return r < 0 ? -ENOMEM : -EPERM;
}

/* The length of ROOT without trailing slashes if PATH lies strictly below it, else 0. */
static size_t root_prefix(const char *root, const char *path)
{
	size_t n;

	if (!root)
		return 0;
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 0 || strncmp(root, path, n) != 0 || path[n] != '/')
		return 0;
	return n;
}

int trust_check(const char *root, const char *path, const struct stat *st, char **ret_why)
{
	_cleanup_free_ char *dir = NULL;
	size_t stop;
	int r;

	*ret_why = NULL;
	r = judge(path, st, ret_why);
	if (r < 0)
		return r;
	stop = root_prefix(root, path);
	if (stop == 0)
		return 0;
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	/* Walk up: cut the last component off until the root itself has been checked. */
	for (;;) {
		struct stat dst;
		char *slash = strrchr(dir, '/');

		if (!slash || (size_t)(slash - dir) < stop)
			break;
		*slash = '\0';
		if (stat(dir, &dst) < 0) {
			r = negative_errno();
			return asprintf(ret_why, "%s: cannot check its owner and mode: %s", dir, strerror(-r)) < 0
				       ? -ENOMEM
				       : r;
		}
		r = judge(dir, &dst, ret_why);
		if (r < 0)
			return r;
	}
	return 0;
}

int trust_open(const char *root, const char *path, int flags, int *ret_fd, char **ret_why)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	*ret_why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | flags);
	if (fd < 0) {
		r = negative_errno();
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP)
			return asprintf(ret_why,
					"%s is a symbolic link: refused, hookd does not follow links here; "
					"fix: replace it with the file it points to",
					path) < 0
				       ? -ENOMEM
				       : r;
		return asprintf(ret_why, "%s: cannot open: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
	}
	if (fstat(fd, &st) < 0) {
		r = negative_errno();
		return asprintf(ret_why, "%s: cannot stat: %s", path, strerror(-r)) < 0 ? -ENOMEM : r;
	}
	r = trust_check(root, path, &st, ret_why);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}
