#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "topology.h"
#include "util.h"

#define STATE_SUFFIX ".state"

static char *state_dir(const char *run_dir)
{
	char *p;

	return asprintf(&p, "%s/state", run_dir) < 0 ? NULL : p;
}

static char *state_file(const char *run_dir, const char *vm, const char *suffix)
{
	char *p;

	return asprintf(&p, "%s/state/%s%s", run_dir, vm, suffix) < 0 ? NULL : p;
}

int journal_init(const char *run_dir)
{
	_cleanup_free_ char *dir = state_dir(run_dir);

	if (!dir)
		return -ENOMEM;
	if (mkdir(run_dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int journal_save(const char *run_dir, const struct plan *p)
{
	_cleanup_free_ char *dir = state_dir(run_dir), *tmp = state_file(run_dir, p->vm, STATE_SUFFIX ".tmp"),
			    *final = state_file(run_dir, p->vm, STATE_SUFFIX);
	_cleanup_close_ int fd = -1, dfd = -1;
	json_object *o;
	const char *text;
	int r;

	if (!dir || !tmp || !final)
		return -ENOMEM;
	o = plan_to_json(p);
	if (!o)
		return -ENOMEM;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	r = fd < 0 ? negative_errno() : write_all(fd, text, strlen(text));
	json_object_put(o);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && rename(tmp, final) < 0)
		r = negative_errno();
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	/* The rename is only durable once the directory is. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return negative_errno();
	return 0;
}

int journal_load(const char *run_dir, const char *vm, struct plan **ret)
{
	_cleanup_free_ char *path = state_file(run_dir, vm, STATE_SUFFIX);
	json_object *o;
	int r;

	if (!path)
		return -ENOMEM;
	if (access(path, F_OK) < 0)
		return negative_errno();
	o = json_object_from_file(path);
	if (!o)
		return access(path, R_OK) < 0 ? negative_errno() : -EINVAL;
	r = plan_from_json(o, ret);
	json_object_put(o);
	if (r >= 0 && !streq((*ret)->vm, vm)) {
		plan_free(*ret);
		*ret = NULL;
		return -EINVAL;
	}
	return r;
}

int journal_remove(const char *run_dir, const char *vm)
{
	_cleanup_free_ char *path = state_file(run_dir, vm, STATE_SUFFIX), *dir = state_dir(run_dir);
	_cleanup_close_ int dfd = -1;

	if (!path || !dir)
		return -ENOMEM;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int journal_list(const char *run_dir, char ***ret)
{
	_cleanup_free_ char *dir = state_dir(run_dir);
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	struct dirent *de;
	size_t n = 0;

	if (!dir || !v)
		return -ENOMEM;
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return negative_errno();
		*ret = TAKE_PTR(v);
		return 0;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), slen = strlen(STATE_SUFFIX);
		char **grown;

		if (de->d_name[0] == '.' || len <= slen || !streq(de->d_name + len - slen, STATE_SUFFIX))
			continue;
		grown = realloc(v, (n + 2) * sizeof(char *));
		if (!grown)
			return -ENOMEM;
		v = grown;
		v[n] = strndup(de->d_name, len - slen);
		if (!v[n])
			return -ENOMEM;
		v[++n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	*ret = TAKE_PTR(v);
	return 0;
}

int journal_lock(const char *run_dir)
{
	_cleanup_free_ char *path = state_file(run_dir, ".lock", "");
	_cleanup_close_ int fd = -1;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return negative_errno();
	return TAKE_FD(fd);
}
