#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "journal.h"
#include "journal-internal.h"
#include "strv.h"
#include "util.h"

char *journal_state_dir(const char *run_dir)
{
	char *p;

	return asprintf(&p, "%s/" JOURNAL_DIR_NAME, run_dir) < 0 ? NULL : p;
}

char *journal_state_file(const char *run_dir, const char *vm, const char *suffix)
{
	char *p;

	return asprintf(&p, "%s/" JOURNAL_DIR_NAME "/%s%s", run_dir, vm, suffix) < 0 ? NULL : p;
}

int journal_init(const char *run_dir)
{
	_cleanup_free_ char *dir = journal_state_dir(run_dir);

	if (!dir)
		return -ENOMEM;
	if (mkdir(run_dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int journal_parse(const char *text, size_t len, const char *vm, struct plan **ret)
{
	json_tokener *tok;
	json_object *o;
	int r;

	if (len > JOURNAL_MAX_SIZE || memchr(text, '\0', len))
		return -EINVAL;
	tok = json_tokener_new_ex(JOURNAL_JSON_DEPTH);
	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, text, (int)len);
	/* One JSON value and nothing after it but white space. */
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (size_t i = tok->char_offset; i < len; i++)
			if (!strchr(" \t\r\n", text[i])) {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o)
		return -EINVAL;
	r = plan_from_json(o, ret);
	json_object_put(o);
	if (r >= 0 && vm && !streq((*ret)->vm, vm)) {
		plan_free(*ret);
		*ret = NULL;
		return -EINVAL;
	}
	return r;
}

int journal_load(const char *run_dir, const char *vm, struct plan **ret)
{
	_cleanup_free_ char *path = journal_state_file(run_dir, vm, STATE_SUFFIX), *text = NULL;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_text_file(path, JOURNAL_MAX_SIZE, &text);
	if (r == -EFBIG || r == -EBADMSG)
		return -EINVAL;
	if (r < 0)
		return r;
	return journal_parse(text, strlen(text), vm, ret);
}

int journal_list(const char *run_dir, char ***ret)
{
	_cleanup_free_ char *dir = journal_state_dir(run_dir);
	int r;

	if (!dir)
		return -ENOMEM;
	r = strv_from_dir(dir, STATE_SUFFIX, NULL, NULL, ret);
	if (r == -ENOENT) {
		*ret = calloc(1, sizeof(char *));
		return *ret ? 0 : -ENOMEM;
	}
	return r;
}

int journal_lock(const char *run_dir, unsigned timeout_ms)
{
	_cleanup_free_ char *path = journal_state_file(run_dir, ".lock", "");
	_cleanup_close_ int fd = -1;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	/* flock has no timeout of its own: try, and sleep a little between tries, until the deadline. */
	for (unsigned waited = 0;; waited += 5) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return TAKE_FD(fd);
		if (errno != EWOULDBLOCK && errno != EINTR)
			return negative_errno();
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}
