/* The helpers room: strv (the sorted directory lister), fileio (whole-file reads under a limit, atomic
 * replace) and clock, in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "strv.h"
#include "test.h"
#include "util.h"

static char dir[] = "/tmp/hookd-test-fileio-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	CHECK(f);
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

static bool starts_with_b(const char *name, void *userdata)
{
	CHECK_STR(userdata, "me");
	return name[0] == 'b';
}

static void test_strv_from_dir(void)
{
	char sub[256];
	_cleanup_strv_free_ char **all = NULL, **ini = NULL, **b = NULL, **none = NULL;

	snprintf(sub, sizeof(sub), "%s/list", dir);
	CHECK(mkdir(sub, 0700) == 0);
	put("list/b.ini", "");
	put("list/a.ini", "");
	put("list/B.ini", "");
	put("list/.hidden.ini", "");
	put("list/.ini", "");
	put("list/c.ini~", "");
	put("list/ini", "");

	CHECK_INT(strv_from_dir(sub, NULL, NULL, NULL, &all), 0);
	CHECK_INT(strv_length(all), 5); /* no hidden names */
	CHECK_STR(all[0], "B.ini");	/* bytewise, not the locale's order */
	CHECK_STR(all[1], "a.ini");
	CHECK_STR(all[4], "ini");

	CHECK_INT(strv_from_dir(sub, ".ini", NULL, NULL, &ini), 0);
	CHECK_INT(strv_length(ini), 3); /* suffix taken off; "ini" and "c.ini~" are not *.ini */
	CHECK_STR(ini[0], "B");
	CHECK_STR(ini[1], "a");
	CHECK_STR(ini[2], "b");

	CHECK_INT(strv_from_dir(sub, ".ini", starts_with_b, "me", &b), 0);
	CHECK_INT(strv_length(b), 1);
	CHECK_STR(b[0], "b");

	snprintf(sub, sizeof(sub), "%s/missing", dir);
	CHECK_INT(strv_from_dir(sub, NULL, NULL, NULL, &none), -ENOENT);
	CHECK(none == NULL);
}

static void test_read(void)
{
	char path[256];
	_cleanup_free_ char *text = NULL, *big = NULL, *bin = NULL, *d = NULL, *piped = NULL;
	size_t len = 0;
	int fds[2];

	put("text", "one\ntwo\n");
	snprintf(path, sizeof(path), "%s/text", dir);
	CHECK_INT(read_text_file(path, 8, &text), 0);
	CHECK_STR(text, "one\ntwo\n");
	CHECK_INT(read_text_file(path, 7, &big), -EFBIG);
	CHECK_INT(read_full_file(path, 7, &big, &len), -EFBIG);
	CHECK(big == NULL);

	put("binary", "a");
	snprintf(path, sizeof(path), "%s/binary", dir);
	{
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

		CHECK(fd >= 0);
		CHECK(write(fd, "\0b", 2) == 2);
		close(fd);
	}
	CHECK_INT(read_text_file(path, 100, &bin), -EBADMSG);
	CHECK_INT(read_full_file(path, 100, &bin, &len), 0);
	CHECK_INT(len, 3); /* a whole-file read keeps every byte; only the text reader refuses NUL */

	CHECK_INT(read_text_file(dir, 100, &d), -EISDIR);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK_INT(read_text_file(path, 100, &d), -EINVAL); /* refused, not waited on */
	CHECK_INT(read_text_file("/nonexistent/hookd", 100, &d), -ENOENT);

	CHECK(pipe2(fds, O_CLOEXEC) == 0);
	CHECK(write(fds[1], "piped", 5) == 5);
	close(fds[1]);
	CHECK_INT(read_full_fd(fds[0], 5, &piped, &len), 0);
	CHECK_STR(piped, "piped");
	CHECK_INT(len, 5);
	close(fds[0]);
}

static int count_entries(const char *path)
{
	struct dirent **entries = NULL;
	int n = scandir(path, &entries, NULL, alphasort);

	for (int i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
	return n;
}

static void test_write_atomic(void)
{
	char sub[256], path[300];
	_cleanup_free_ char *back = NULL, *kept = NULL;
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/atomic", dir);
	CHECK(mkdir(sub, 0700) == 0);
	snprintf(path, sizeof(path), "%s/win10.ini", sub);

	CHECK_INT(write_file_atomic_new(sub, "win10.ini", "first\n", 0644), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_INT(write_file_atomic_new(sub, "win10.ini", "second\n", 0644), -EEXIST);
	CHECK_INT(read_text_file(path, 100, &kept), 0);
	CHECK_STR(kept, "first\n");

	CHECK_INT(write_file_atomic(sub, "win10.ini", "second\n", 0600), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_INT(read_text_file(path, 100, &back), 0);
	CHECK_STR(back, "second\n");
	CHECK_INT(count_entries(sub), 3); /* ".", ".." and the file: no temporary file is left */

	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK_INT(write_file_atomic(path, "x", "y", 0600), -ENOENT);
}

static void test_clock(void)
{
	unsigned long long a = monotonic_ms(), b;
	struct timespec later = monotonic_timespec_after_ms(1500), now;

	CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
	CHECK(later.tv_nsec >= 0 && later.tv_nsec < 1000000000L);
	CHECK(later.tv_sec > now.tv_sec || (later.tv_sec == now.tv_sec && later.tv_nsec > now.tv_nsec));
	b = monotonic_ms();
	CHECK(b >= a);
	CHECK(realtime_usec() > 1500000000LL * 1000000LL); /* after 2017: the realtime clock, not the monotonic one */
}

int main(void)
{
	CHECK(mkdtemp(dir));
	RUN(test_strv_from_dir);
	RUN(test_read);
	RUN(test_write_atomic);
	RUN(test_clock);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
	return 0;
}
