/* The real hook executable (hookd-hook) against temporary directories and a fake daemon in this process:
 * which VMs it leaves alone, which events it always forwards, how it treats its input, a busy daemon and the
 * legacy qemu.d scripts it runs or refuses. Nothing here touches /sys or a running hookd.
 * The fake daemon is a listening socket served by a thread: it records each request and answers "ok".
 * One test runs the real hookd instead, to see a VM file root did not write refused from end to end.
 * usage: test-hook HOOKD-HOOK HOOKD */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "proto.h"
#include "instance-lock.h"
#include "test.h"
#include "util.h"

static const char *hook_bin, *hookd_bin;
static char dir[] = "/tmp/hookd-test-hook-XXXXXX";
static char conf[256], hooks[256], run_dir[256], sock[256], marker[256];

/* ---- helpers ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f);
	fputs(text, f);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, mode) == 0);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	CHECK(system(cmd) == 0);
}

/* A legacy script at qemu.d/<rel> that appends its name to the marker file, with MODE. */
static void legacy_script(const char *rel, const char *body, mode_t mode)
{
	char path[1024], text[2048];

	snprintf(path, sizeof(path), "%s/qemu.d/%s", hooks, rel);
	sh("mkdir -p \"$(dirname '%s')\"", path);
	snprintf(text, sizeof(text), "#!/bin/sh\necho %s >> %s\n%s\n", rel, marker, body ? body : "");
	write_file(path, text, mode);
}

static bool marker_has(const char *what)
{
	char buf[8192];
	FILE *f = fopen(marker, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, what) != NULL;
}

struct hook_run {
	int status; /* exit status */
	char err[16384];
	char *out; /* stdout, malloc'd */
	size_t out_len;
};

static void hook_run_done(struct hook_run *r)
{
	free(r->out);
	r->out = NULL;
}

/* Run the hook as libvirt does: argv "qemu VM OP SUBOP -", the XML on stdin, as uid (0, or 65534 for a
 * session libvirtd). Feeds stdin and drains both outputs together: the hook may write a lot, or leave stdin
 * unread (libvirt ignores that EPIPE, so do we). */
static void run_hook_as(uid_t uid, const char *vm, const char *op, const char *subop, const char *xml, size_t xml_len,
			struct hook_run *ret)
{
	int in[2], out[2], err[2], status;
	size_t err_len = 0, cap = 0, off = 0;
	struct pollfd p[3];
	pid_t pid;

	memset(ret, 0, sizeof(*ret));
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		setenv("HOOKD_SOCKET", sock, 1);
		setenv("HOOKD_CONF_DIR", conf, 1);
		setenv("HOOKD_HOOKS_DIR", hooks, 1);
		setenv("HOOKD_RUN_DIR", run_dir, 1);
		if (uid != 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
			_exit(126);
		execl(hook_bin, "qemu", vm, op, subop, "-", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	CHECK(fcntl(in[1], F_SETFL, O_NONBLOCK) == 0);
	p[0] = (struct pollfd){ .fd = out[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = err[0], .events = POLLIN };
	p[2] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
	if (xml_len == 0) {
		close(in[1]);
		p[2].fd = -1;
	}
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		CHECK(poll(p, 3, 120000) > 0);
		if (p[2].fd >= 0 && p[2].revents) {
			ssize_t n = write(in[1], xml + off, xml_len - off);

			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN) || off == xml_len) {
				close(in[1]);
				p[2].fd = -1;
			}
		}
		if (p[0].fd >= 0 && p[0].revents) {
			ssize_t n;

			if (cap - ret->out_len < 65536) {
				cap = cap ? cap * 2 : 65536;
				ret->out = realloc(ret->out, cap);
				CHECK(ret->out);
			}
			n = read(out[0], ret->out + ret->out_len, cap - ret->out_len);
			if (n <= 0) {
				close(out[0]);
				p[0].fd = -1;
			} else
				ret->out_len += (size_t)n;
		}
		if (p[1].fd >= 0 && p[1].revents) {
			ssize_t n = read(err[0], ret->err + err_len, sizeof(ret->err) - 1 - err_len);

			if (n <= 0) {
				close(err[0]);
				p[1].fd = -1;
			} else
				err_len += (size_t)n;
		}
	}
	if (p[2].fd >= 0)
		close(in[1]);
	ret->err[err_len] = '\0';
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	ret->status = WEXITSTATUS(status);
	fprintf(stderr, "hook %s %s %s: exit %d, %zu bytes out, stderr: %s%s", vm, op, subop, ret->status, ret->out_len,
		ret->err, err_len && ret->err[err_len - 1] == '\n' ? "" : "\n");
}

static const char xml_ok[] = "<domain type='kvm'><name>vm</name></domain>";

static void run_hook(const char *vm, const char *op, const char *subop, struct hook_run *ret)
{
	run_hook_as(0, vm, op, subop, xml_ok, sizeof(xml_ok) - 1, ret);
}

/* ---- the fake daemon: records requests, answers {} ---- */

static struct {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	unsigned delay_ms; /* before it starts accepting */
	bool stop;
	unsigned n_requests;
	json_object *last; /* the last request */
} fake = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static int listen_on(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(chmod(path, 0666) == 0);
	CHECK(listen(fd, backlog) == 0);
	return fd;
}

static void serve_one(int c)
{
	static const char reply[] = "{\"parameters\":{}}";
	char *buf = malloc(HOOKD_MSG_MAX + 1);
	size_t len = 0;
	struct timeval tv = { .tv_sec = 30 };

	CHECK(buf);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < HOOKD_MSG_MAX) {
		ssize_t n = read(c, buf + len, HOOKD_MSG_MAX - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\0', len))
			break;
	}
	if (len > 0 && memchr(buf, '\0', len)) {
		json_object *req = json_tokener_parse(buf);

		pthread_mutex_lock(&fake.lock);
		fake.n_requests++;
		json_object_put(fake.last);
		fake.last = req;
		pthread_mutex_unlock(&fake.lock);
		(void)!write(c, reply, sizeof(reply));
	}
	free(buf);
}

static void *fake_main(void *arg)
{
	(void)arg;
	if (fake.delay_ms)
		usleep(fake.delay_ms * 1000);
	for (;;) {
		struct pollfd p = { .fd = fake.fd, .events = POLLIN };
		int c;

		pthread_mutex_lock(&fake.lock);
		if (fake.stop) {
			pthread_mutex_unlock(&fake.lock);
			return NULL;
		}
		pthread_mutex_unlock(&fake.lock);
		if (poll(&p, 1, 20) <= 0)
			continue;
		c = accept4(fake.fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_one(c);
		close(c);
	}
}

static void fake_start(int listen_fd, unsigned delay_ms)
{
	fake.fd = listen_fd;
	fake.delay_ms = delay_ms;
	fake.stop = false;
	fake.n_requests = 0;
	CHECK(pthread_create(&fake.thread, NULL, fake_main, NULL) == 0);
}

static void fake_stop(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.stop = true;
	pthread_mutex_unlock(&fake.lock);
	CHECK(pthread_join(fake.thread, NULL) == 0);
	close(fake.fd);
	fake.fd = -1;
	json_object_put(fake.last);
	fake.last = NULL;
}

static unsigned fake_requests(void)
{
	unsigned n;

	pthread_mutex_lock(&fake.lock);
	n = fake.n_requests;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* A string parameter of the last request (static copy), or NULL. */
static const char *fake_param(const char *key)
{
	static char value[4096];
	json_object *params, *v;
	const char *s = NULL;

	pthread_mutex_lock(&fake.lock);
	if (fake.last && json_object_object_get_ex(fake.last, "parameters", &params) &&
	    json_object_object_get_ex(params, key, &v)) {
		snprintf(value, sizeof(value), "%s", json_object_to_json_string(v));
		s = value;
		if (json_object_is_type(v, json_type_string))
			snprintf(value, sizeof(value), "%s", json_object_get_string(v));
	}
	pthread_mutex_unlock(&fake.lock);
	return s;
}

/* ---- 9.6: a name that cannot have a configuration file is not configured ---- */

static void test_unusable_names_left_alone(void)
{
	static const char *const ops[][2] = { { "prepare", "begin" }, { "start", "begin" }, { "release", "end" } };
	char long_name[202], saved_conf[256];
	const char *names[] = { ".hidden-vm", "tab\tname", long_name, ".", ".." };
	struct hook_run r;

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	/* No hookd configuration at all. */
	snprintf(saved_conf, sizeof(saved_conf), "%s", conf);
	snprintf(conf, sizeof(conf), "%s/no-such-conf", dir);
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		for (size_t j = 0; j < ELEMENTSOF(ops); j++) {
			run_hook(names[i], ops[j][0], ops[j][1], &r);
			CHECK_INT(r.status, 0);
			CHECK_STR(r.err, "");
			hook_run_done(&r);
		}
	snprintf(conf, sizeof(conf), "%s", saved_conf);
	CHECK_INT(fake_requests(), 0);
}

/* ---- 10.7: the hook run by another user (qemu:///session) leaves the VM alone ---- */

static void test_session_user_left_alone(void)
{
	struct hook_run r;
	unsigned before = fake_requests();

	legacy_script("win10/prepare/begin/session.sh", NULL, 0755);
	run_hook_as(65534, "win10", "prepare", "begin", xml_ok, sizeof(xml_ok) - 1, &r);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.err, "");
	hook_run_done(&r);
	run_hook_as(65534, "win10", "release", "end", xml_ok, sizeof(xml_ok) - 1, &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before);
	CHECK(!marker_has("session.sh"));
	/* The same VM as root is served: the script runs and hookd is asked. */
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before + 1);
	CHECK(marker_has("session.sh"));
	sh("rm -rf %s/qemu.d/win10/prepare", hooks);
}

/* ---- 10.4: a VM hookd holds devices for reaches hookd at release, file or no file ---- */

static void test_release_with_journal_reaches_daemon(void)
{
	char path[512];
	struct hook_run r;
	unsigned before = fake_requests();

	/* "gone" has no VM file and no legacy scripts, but a journal: its devices are still on vfio-pci. */
	snprintf(path, sizeof(path), "%s/state/gone.state", run_dir);
	write_file(path, "{}\n", 0600);
	run_hook("gone", "stopped", "end", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before + 1);
	run_hook("gone", "release", "end", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before + 2);
	CHECK_STR(fake_param("vm"), "gone");
	CHECK_STR(fake_param("op"), "release");
	CHECK(unlink(path) == 0);
	/* Without the journal the fast path holds again. */
	run_hook("gone", "release", "end", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before + 2);
}

/* ---- 10.8: inputs that broke the hook ---- */

/* A NUL byte inside the domain XML: not XML; refused for an event that can fail, never read past. */
static void test_nul_in_xml(void)
{
	static const char xml[] = "<domain type='kvm'>\0<name>win10</name></domain>";
	struct hook_run r;
	unsigned before = fake_requests();

	legacy_script("win10/prepare/begin/nul.sh", NULL, 0755);
	run_hook_as(0, "win10", "prepare", "begin", xml, sizeof(xml) - 1, &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "win10") && strstr(r.err, "NUL byte"));
	hook_run_done(&r);
	CHECK(!marker_has("nul.sh"));
	CHECK_INT(fake_requests(), before);
	/* At release hookd must still hear of it (it releases from its journal, the XML is not needed). */
	run_hook_as(0, "win10", "release", "end", xml, sizeof(xml) - 1, &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_INT(fake_requests(), before + 1);
	CHECK_STR(fake_param("op"), "release");
	sh("rm -rf %s/qemu.d/win10/prepare", hooks);
}

/* Legacy scripts' stdout is discarded, whatever its size, except where libvirt reads it (migrate, restore). */
static void test_large_script_output(void)
{
	struct hook_run r;

	legacy_script("chatty/prepare/begin/loud.sh", "head -c 3000000 /dev/zero | tr '\\\\0' x", 0755);
	run_hook("chatty", "prepare", "begin", &r);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.out_len, 0);
	hook_run_done(&r);
	CHECK(marker_has("chatty/prepare/begin/loud.sh"));

	/* migrate: stdout is the new XML, so it is bounded, and exceeding the bound says so. */
	legacy_script("chatty/migrate/begin/loud.sh", "head -c 3000000 /dev/zero | tr '\\\\0' x", 0755);
	run_hook("chatty", "migrate", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "loud.sh") && strstr(r.err, "bytes"));
	CHECK_INT(r.out_len, 0);
	hook_run_done(&r);
	legacy_script("chatty/migrate/begin/loud.sh", "echo '<domain>new</domain>'", 0755);
	run_hook("chatty", "migrate", "begin", &r);
	CHECK_INT(r.status, 0);
	CHECK(r.out_len > 0 && strstr(r.out, "<domain>new</domain>"));
	hook_run_done(&r);
	sh("rm -rf %s/qemu.d/chatty", hooks);
}

/* Connections the listener has not accepted yet fill its backlog; returns how many (closed by the caller). */
static int fill_backlog(const char *path, int *fds, int max)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char status[] = "{\"method\":\"io.hookd.Status\"}";
	int n = 0;

	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	while (n < max) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		CHECK(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			CHECK_INT(errno, EAGAIN);
			close(fd);
			return n;
		}
		/* A queued connection already takes data: each is a whole request, answered once accepted. */
		CHECK(write(fd, status, sizeof(status)) == (ssize_t)sizeof(status));
		fds[n++] = fd;
	}
	CHECK(!"the backlog never filled");
	return n;
}

/* With the listen backlog full the hook keeps trying within its timeout, then says hookd is busy. */
static void test_busy_daemon(void)
{
	char busy_sock[256], saved[256];
	int fillers[64], n, lfd;
	struct hook_run r;

	fake_stop();
	snprintf(saved, sizeof(saved), "%s", sock);
	CHECK((size_t)snprintf(busy_sock, sizeof(busy_sock), "%s/busy.sock", dir) < sizeof(busy_sock));
	snprintf(sock, sizeof(sock), "%s", busy_sock);

	/* Nobody accepts: the hook gives up at its timeout (2 s here) and names the cause. */
	lfd = listen_on(busy_sock, 0);
	n = fill_backlog(busy_sock, fillers, 64);
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "win10") && strstr(r.err, "busy"));
	CHECK(!strstr(r.err, "not connected"));
	hook_run_done(&r);

	/* The daemon catches up while the hook waits: the event goes through. */
	fake_start(lfd, 500);
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK_STR(fake_param("vm"), "win10");
	for (int i = 0; i < n; i++)
		close(fillers[i]);
	fake_stop();

	snprintf(sock, sizeof(sock), "%s", saved);
	fake_start(listen_on(sock, 16), 0);
}

/* ---- 9.4: an event sent while hookd restarts by hand is not lost ---- */

static void *bind_later(void *arg)
{
	usleep(500 * 1000);
	fake_start(listen_on(sock, 16), 0);
	return NULL;
}

static void test_daemon_starting(void)
{
	char lock_path[512];
	struct hook_run r;
	pthread_t binder;
	int lock_fd;

	fake_stop();
	unlink(sock);
	/* No hookd at all (nobody holds its lock): the hook fails at once, as before. */
	run_hook("win10", "release", "end", &r);
	CHECK(strstr(r.err, "the daemon is not running"));
	hook_run_done(&r);

	/* A hookd that holds its lock but has not bound its socket yet is starting: the hook waits for it. */
	CHECK((size_t)snprintf(lock_path, sizeof(lock_path), "%s/" DAEMON_LOCK_NAME, run_dir) < sizeof(lock_path));
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(lock_fd >= 0);
	CHECK(flock(lock_fd, LOCK_EX) == 0);
	CHECK(pthread_create(&binder, NULL, bind_later, NULL) == 0);
	run_hook("win10", "release", "end", &r);
	CHECK(pthread_join(binder, NULL) == 0);
	CHECK_INT(r.status, 0);
	CHECK(!strstr(r.err, "not running"));
	hook_run_done(&r);
	CHECK_STR(fake_param("vm"), "win10");
	CHECK_STR(fake_param("op"), "release");
	close(lock_fd);
	CHECK(unlink(lock_path) == 0);
}

/* ---- 9.7 and 10.3: legacy scripts that will not run are reported; scripts root did not write are refused ---- */

static void test_unrunnable_scripts_reported(void)
{
	struct hook_run r;
	const char *warnings;

	legacy_script("win10/release/end/revert.sh", NULL, 0644);
	legacy_script("every-vm.sh", NULL, 0755);
	run_hook("win10", "release", "end", &r);
	CHECK_INT(r.status, 0);
	CHECK(!marker_has("revert.sh"));
	CHECK(strstr(r.err, "win10/release/end/revert.sh") && strstr(r.err, "not executable") &&
	      strstr(r.err, "chmod +x"));
	CHECK(strstr(r.err, "qemu.d/every-vm.sh") && strstr(r.err, "every VM"));
	hook_run_done(&r);
	/* hookd hears of them in the event (its log and `hookctl status VM` show them). */
	warnings = fake_param("warnings");
	CHECK(warnings && strstr(warnings, "revert.sh") && strstr(warnings, "every-vm.sh"));

	/* Every event of the VM reports its scripts that will never run, not only the event they belong to. */
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 0);
	CHECK(strstr(r.err, "revert.sh"));
	hook_run_done(&r);
	sh("rm -rf %s/qemu.d/win10/release %s/qemu.d/every-vm.sh", hooks, hooks);
	run_hook("win10", "prepare", "begin", &r);
	CHECK_STR(r.err, "");
	hook_run_done(&r);
	CHECK(fake_param("warnings") == NULL);
}

static void test_untrusted_scripts_refused(void)
{
	char path[512];
	struct hook_run r;
	unsigned before;

	/* Owned by nobody, mode 0777, in a begin phase: the event fails and nothing of the VM's runs. */
	legacy_script("win10/prepare/begin/10-good.sh", NULL, 0755);
	legacy_script("win10/prepare/begin/20-evil.sh", NULL, 0777);
	snprintf(path, sizeof(path), "%s/qemu.d/win10/prepare/begin/20-evil.sh", hooks);
	CHECK(chown(path, 65534, 65534) == 0);
	before = fake_requests();
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "20-evil.sh") && strstr(r.err, "chown root:root"));
	hook_run_done(&r);
	CHECK(!marker_has("20-evil.sh"));
	CHECK(!marker_has("10-good.sh"));
	CHECK_INT(fake_requests(), before);

	/* Owned by root but writable by others: the fix is chmod. */
	CHECK(chown(path, 0, 0) == 0);
	CHECK(chmod(path, 0777) == 0);
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "20-evil.sh") && strstr(r.err, "chmod go-w"));
	hook_run_done(&r);
	CHECK(!marker_has("20-evil.sh"));

	/* A directory above it writable by others taints what is below. */
	CHECK(chmod(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/qemu.d/win10/prepare", hooks);
	CHECK(chmod(path, 0777) == 0);
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, path) && strstr(r.err, "chmod go-w"));
	hook_run_done(&r);
	CHECK(!marker_has("10-good.sh"));
	CHECK(chmod(path, 0755) == 0);

	/* Fixed: both run, in order. */
	run_hook("win10", "prepare", "begin", &r);
	CHECK_INT(r.status, 0);
	hook_run_done(&r);
	CHECK(marker_has("10-good.sh") && marker_has("20-evil.sh"));

	/* In an end phase the untrusted script is skipped and reported; the others run, hookd is told. */
	legacy_script("win10/release/end/evil.sh", NULL, 0777);
	legacy_script("win10/release/end/fine.sh", NULL, 0755);
	before = fake_requests();
	run_hook("win10", "release", "end", &r);
	CHECK_INT(r.status, 0);
	CHECK(strstr(r.err, "evil.sh") && strstr(r.err, "chmod go-w"));
	hook_run_done(&r);
	CHECK(!marker_has("release/end/evil.sh"));
	CHECK(marker_has("release/end/fine.sh"));
	CHECK_INT(fake_requests(), before + 1);
	sh("rm -rf %s/qemu.d/win10", hooks);
}

/* ---- 10.3 end to end: the real hookd refuses a VM file root did not write; the hook says why ---- */

static void test_untrusted_vm_file_refused(void)
{
	char path[512], target[512], saved_sock[256];
	struct hook_run r;
	pid_t pid;
	int status;

	fake_stop();
	snprintf(saved_sock, sizeof(saved_sock), "%s", sock);
	CHECK((size_t)snprintf(sock, sizeof(sock), "%s/real.sock", dir) < sizeof(sock));
	snprintf(path, sizeof(path), "%s/vms/open.ini", conf);
	write_file(path, "[device.gpu]\naddress = 0a:00.0\n", 0666);
	snprintf(target, sizeof(target), "%s/elsewhere.ini", dir);
	write_file(target, "[device.gpu]\naddress = 0a:00.0\n", 0644);
	snprintf(path, sizeof(path), "%s/vms/linked.ini", conf);
	CHECK(symlink(target, path) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(hookd_bin, hookd_bin, "--conf-dir", conf, "--run-dir", run_dir, "--sysfs-root", dir, "--socket",
		      sock, (char *)NULL);
		_exit(127);
	}
	/* Bounded (60 s, for a loaded machine), not a time limit on hookd. */
	for (int i = 0; i < 6000 && access(sock, F_OK) < 0; i++)
		usleep(10000);

	run_hook("open", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "open.ini") && strstr(r.err, "mode 0666") && strstr(r.err, "chmod go-w"));
	hook_run_done(&r);
	run_hook("linked", "prepare", "begin", &r);
	CHECK_INT(r.status, 1);
	CHECK(strstr(r.err, "linked.ini") && strstr(r.err, "symbolic link"));
	hook_run_done(&r);

	CHECK(kill(pid, SIGTERM) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/vms/open.ini", conf);
	CHECK(unlink(path) == 0);
	snprintf(sock, sizeof(sock), "%s", saved_sock);
	fake_start(listen_on(sock, 16), 0);
}

/* $TEST_ONLY=test_name runs that one test alone (to see it fail against an older hook). */
#define RUN_SELECTED(fn)                                 \
	do {                                             \
		const char *_only = getenv("TEST_ONLY"); \
		if (!_only || streq(_only, #fn))         \
			RUN(fn);                         \
	} while (0)

int main(int argc, char **argv)
{
	char path[512];

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOOKD-HOOK HOOKD\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (files owned by nobody, the hook run as nobody)\n");
		return 77;
	}
	hook_bin = argv[1];
	hookd_bin = argv[2];
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	CHECK(mkdtemp(dir));
	CHECK(chmod(dir, 0755) == 0);
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(hooks, sizeof(hooks), "%s/hooks", dir);
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(sock, sizeof(sock), "%s/hookd.sock", dir);
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	sh("mkdir -p %s/vms %s/qemu.d %s/state", conf, hooks, run_dir);
	/* Short timeouts: the busy test waits for the whole of [hook] timeout. */
	snprintf(path, sizeof(path), "%s/hookd.conf", conf);
	write_file(path, "[daemon]\noperation-timeout = 1\nsysfs-timeout = 1\n[hook]\ntimeout = 2\n", 0644);
	snprintf(path, sizeof(path), "%s/vms/win10.ini", conf);
	write_file(path, "[device.gpu]\naddress = 0a:00.0\n", 0644);
	fake_start(listen_on(sock, 16), 0);

	RUN_SELECTED(test_unusable_names_left_alone);
	RUN_SELECTED(test_session_user_left_alone);
	RUN_SELECTED(test_release_with_journal_reaches_daemon);
	RUN_SELECTED(test_nul_in_xml);
	RUN_SELECTED(test_large_script_output);
	RUN_SELECTED(test_busy_daemon);
	RUN_SELECTED(test_daemon_starting);
	RUN_SELECTED(test_unrunnable_scripts_reported);
	RUN_SELECTED(test_untrusted_scripts_refused);
	RUN_SELECTED(test_untrusted_vm_file_refused);

	fake_stop();
	sh("rm -rf %s", dir);
	return 0;
}
