/* Unit tests of hookd/lib/trust.c and of config loading through it: a file root did not write (owned by
 * nobody, mode 0666, in a 0777 directory) or a symbolic link is refused with one line naming the file and the
 * command that fixes it; a root-owned 0644 file in 0755 directories is read.
 * Owner checks need root (chown to 65534); mode and link checks run as anyone. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "test.h"
#include "trust.h"
#include "util.h"

static char dir[] = "/tmp/hookd-test-trust-XXXXXX";
static char conf[256], vms[300], ini[400];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f);
	fputs(text, f);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, mode) == 0);
}

/* vm_config_load of "a" must fail with -EPERM and a single line containing every word in want[]. */
static void expect_config_refused(const char *want1, const char *want2)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	CHECK_INT(vm_config_load(conf, "a", &c, &d), -EPERM);
	CHECK(c == NULL);
	CHECK_INT(d.n, 1);
	fprintf(stderr, "refused: %s\n", d.lines[0]);
	CHECK(!strchr(d.lines[0], '\n'));
	CHECK(strstr(d.lines[0], want1));
	CHECK(strstr(d.lines[0], want2));
	diag_clear(&d);
}

static void expect_config_loaded(void)
{
	struct vm_config *c = NULL;
	struct diag d = { 0 };

	CHECK_INT(vm_config_load(conf, "a", &c, &d), 0);
	CHECK_INT(d.n, 0);
	vm_config_free(c);
}

static void test_trusted_file_loads(void)
{
	expect_config_loaded();
}

static void test_writable_file_refused(void)
{
	char fix[512];

	snprintf(fix, sizeof(fix), "fix: chmod go-w %s", ini);
	CHECK(chmod(ini, 0666) == 0);
	expect_config_refused("mode 0666", fix);
	CHECK(chmod(ini, 0620) == 0);
	expect_config_refused("writable by group", fix);
	CHECK(chmod(ini, 0644) == 0);
	expect_config_loaded();
}

static void test_writable_directory_refused(void)
{
	char fix[512];

	snprintf(fix, sizeof(fix), "fix: chmod go-w %s", vms);
	CHECK(chmod(vms, 0777) == 0);
	expect_config_refused(vms, fix);
	CHECK(chmod(vms, 0755) == 0);
	/* The configured root itself counts; what lies above it (here /tmp, 1777) does not. */
	snprintf(fix, sizeof(fix), "fix: chmod go-w %s", conf);
	CHECK(chmod(conf, 0775) == 0);
	expect_config_refused("mode 0775", fix);
	CHECK(chmod(conf, 0755) == 0);
	expect_config_loaded();
}

static void test_foreign_owner_refused(void)
{
	char fix[512];

	if (geteuid() != 0) {
		fprintf(stderr, "not root: owner checks need chown, left to the root run\n");
		return;
	}
	snprintf(fix, sizeof(fix), "fix: chown root:root %s", ini);
	CHECK(chown(ini, 65534, 65534) == 0);
	expect_config_refused("owned by uid 65534", fix);
	CHECK(chown(ini, 0, 0) == 0);
	snprintf(fix, sizeof(fix), "fix: chown root:root %s", vms);
	CHECK(chown(vms, 65534, 0) == 0);
	expect_config_refused("owned by uid 65534", fix);
	CHECK(chown(vms, 0, 0) == 0);
	expect_config_loaded();
}

static void test_symlink_not_followed(void)
{
	char target[512];

	/* A trusted target does not make the link acceptable: the link is not followed at all. */
	snprintf(target, sizeof(target), "%s/real.ini", conf);
	write_file(target, "[device.gpu]\naddress = 0a:00.0\n", 0644);
	CHECK(rename(ini, target) == 0);
	CHECK(symlink(target, ini) == 0);
	expect_config_refused("symbolic link", ini);
	CHECK(unlink(ini) == 0);
	CHECK(rename(target, ini) == 0);
	expect_config_loaded();
}

/* hookd.conf goes through the same check: an untrusted one is refused, not read. */
static void test_global_config_refused(void)
{
	struct hookd_config *c = NULL;
	struct diag d = { 0 };
	char path[400];

	snprintf(path, sizeof(path), "%s/hookd.conf", conf);
	write_file(path, "[daemon]\noperation-timeout = 4\nsysfs-timeout = 2\n[hook]\ntimeout = 5\n", 0646);
	CHECK_INT(hookd_config_load(conf, &c, &d), -EPERM);
	CHECK(c == NULL);
	CHECK(d.n >= 1 && strstr(d.lines[0], path) && strstr(d.lines[0], "chmod go-w"));
	diag_clear(&d);
	CHECK(chmod(path, 0644) == 0);
	CHECK_INT(hookd_config_load(conf, &c, &d), 0);
	CHECK_INT(c->hook_timeout_ms, 5000);
	hookd_config_free(c);
	CHECK(unlink(path) == 0);
}

/* trust_check on its own: a path outside the root checks the file alone; every level up to the root counts. */
static void test_trust_check_levels(void)
{
	struct stat st;
	char *why = NULL;

	CHECK(lstat(ini, &st) == 0);
	CHECK_INT(trust_check(conf, ini, &st, &why), 0);
	CHECK(why == NULL);
	CHECK_INT(trust_check("/nonexistent-root", ini, &st, &why), 0);
	CHECK_INT(trust_check(NULL, ini, &st, &why), 0);
	st.st_mode |= S_IWOTH;
	CHECK_INT(trust_check(conf, ini, &st, &why), -EPERM);
	CHECK(why && strstr(why, ini));
	free(why);
	/* A root given with a trailing slash is the same root. */
	CHECK(chmod(conf, 0777) == 0);
	CHECK(lstat(ini, &st) == 0);
	{
		char root_slash[300];

		snprintf(root_slash, sizeof(root_slash), "%s/", conf);
		CHECK_INT(trust_check(root_slash, ini, &st, &why), -EPERM);
		CHECK(why && strstr(why, conf));
		free(why);
	}
	CHECK(chmod(conf, 0755) == 0);
}

int main(void)
{
	CHECK(mkdtemp(dir));
	CHECK(chmod(dir, 0755) == 0);
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(vms, sizeof(vms), "%s/vms", conf);
	snprintf(ini, sizeof(ini), "%s/a.ini", vms);
	CHECK(mkdir(conf, 0755) == 0);
	CHECK(mkdir(vms, 0755) == 0);
	umask(022);
	write_file(ini, "[device.gpu]\naddress = 0a:00.0\n", 0644);

	RUN(test_trusted_file_loads);
	RUN(test_writable_file_refused);
	RUN(test_writable_directory_refused);
	RUN(test_foreign_owner_refused);
	RUN(test_symlink_not_followed);
	RUN(test_global_config_refused);
	RUN(test_trust_check_levels);

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return 0;
}
