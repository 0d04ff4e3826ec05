/* The journal's writer: replace a VM's journal atomically, or remove it once everything is given back. The
 * engine's write side; the reader (journal.c) is all hookctl links. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "journal.h"
#include "journal-internal.h"
#include "util.h"

int journal_save(const char *run_dir, const struct plan *p)
{
	_cleanup_free_ char *dir = journal_state_dir(run_dir), *name = NULL;
	json_object *o;
	int r;

	if (!dir || asprintf(&name, "%s%s", p->vm, STATE_SUFFIX) < 0)
		return -ENOMEM;
	o = plan_to_json(p);
	if (!o)
		return -ENOMEM;
	r = write_file_atomic(
		dir, name, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
		0600);
	json_object_put(o);
	return r;
}

int journal_remove(const char *run_dir, const char *vm)
{
	_cleanup_free_ char *path = journal_state_file(run_dir, vm, STATE_SUFFIX), *dir = journal_state_dir(run_dir);

	if (!path || !dir)
		return -ENOMEM;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	(void)fsync_directory(dir);
	return 0;
}
