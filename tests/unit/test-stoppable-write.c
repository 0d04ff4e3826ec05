/* sysfs_write_stoppable (stoppable-write.h) on a temporary directory, never /sys: a write that ends, one
 * that fails, and one that never would (a FIFO nobody reads: open blocks as a busy nr_hugepages write does),
 * which is stopped at its deadline with its child reaped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "stoppable-write.h"
#include "test.h"
#include "util.h"

static char dir[] = "/tmp/hookd-test-stoppable-XXXXXX";

static void no_child_left(void)
{
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

static void test_write_ends(void)
{
	_cleanup_free_ char *path = NULL, *text = NULL;

	CHECK(asprintf(&path, "%s/nr_hugepages", dir) >= 0);
	CHECK(write_file_atomic(dir, "nr_hugepages", "old value\n", 0600) == 0);
	CHECK_INT(sysfs_write_stoppable(dir, "nr_hugepages", "512", 1000), 0);
	CHECK(read_text_file(path, 4096, &text) == 0);
	CHECK_STR(text, "512");
	no_child_left();
}

static void test_write_fails(void)
{
	CHECK_INT(sysfs_write_stoppable(dir, "no-such-dir/nr_hugepages", "1", 1000), -ENOENT);
	no_child_left();
}

static void test_write_stopped(void)
{
	_cleanup_free_ char *path = NULL;

	CHECK(asprintf(&path, "%s/fifo", dir) >= 0);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK_INT(sysfs_write_stoppable(dir, "fifo", "1", 100), -ETIMEDOUT);
	no_child_left();
	unlink(path);
}

int main(void)
{
	_cleanup_free_ char *path = NULL;

	CHECK(mkdtemp(dir));
	RUN(test_write_ends);
	RUN(test_write_fails);
	RUN(test_write_stopped);
	CHECK(asprintf(&path, "%s/nr_hugepages", dir) >= 0);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	return 0;
}
