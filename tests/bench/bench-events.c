/* Benchmarks of the event path, each printed as a ratio against a baseline measured in the same run:
 *   hook:   the hook's fast path (unconfigured VM, no legacy scripts) vs exec'ing /bin/true;   goal <= 2x
 *   burst:  200 hook processes at once (reconnect begin of 200 configured VMs) vs 200 /bin/true at once,
 *           with hookd's peak RSS (VmHWM);
 *   idle:   hookd's RSS and its context switches over HOOKD_BENCH_IDLE_S seconds (default 10);  goal: none.
 * hookd runs on temporary directories and an empty fixture sysfs: nothing touches /sys.
 * usage: bench-events HOOKD HOOKD-HOOK */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"

extern char **environ;

static char dir[] = "/tmp/hookd-bench-XXXXXX";
static pid_t daemon_pid;

static double now_s(void)
{
	return (double)monotonic_usec() / 1e6;
}

static pid_t spawn(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(r));
		exit(1);
	}
	return pid;
}

static void reap(pid_t pid, bool must_succeed)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			exit(1);
	if (must_succeed && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		fprintf(stderr, "a child failed (status %d)\n", status);
		exit(1);
	}
}

/* Seconds for n sequential runs of argv. */
static double time_sequential(char *const argv[], int n)
{
	double t0 = now_s();

	for (int i = 0; i < n; i++)
		reap(spawn(argv), true);
	return now_s() - t0;
}

/* Seconds for n concurrent runs of argv[i]. */
static double time_concurrent(char **argvs[], int n)
{
	pid_t *pids = calloc((size_t)n, sizeof(pid_t));
	double t0 = now_s();

	for (int i = 0; i < n; i++)
		pids[i] = spawn(argvs[i]);
	for (int i = 0; i < n; i++)
		reap(pids[i], true);
	free(pids);
	return now_s() - t0;
}

static long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':')
			v = atol(line + strlen(key) + 1);
	fclose(f);
	return v;
}

/* Context switches of every thread of the daemon. */
static long daemon_ctxt_switches(void)
{
	return proc_status_kb(daemon_pid, "voluntary_ctxt_switches") +
	       proc_status_kb(daemon_pid, "nonvoluntary_ctxt_switches");
}

static void cleanup(void)
{
	char cmd[128];

	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	const char *idle_env = getenv("HOOKD_BENCH_IDLE_S");
	int idle_s = idle_env ? atoi(idle_env) : 10;
	enum { N_SEQ = 1000, N_BURST = 200 };
	char sock[300], conf[300], run[300], sys[300], hooks[300], path[1300], env[4][400];
	char *true_argv[] = { "/bin/true", NULL };
	char **burst_argv[N_BURST], **true_argvs[N_BURST];
	double t_true, t_hook, t_burst, t_burst_true;
	long rss, hwm_before, sw0, sw1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s HOOKD HOOKD-HOOK\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	atexit(cleanup);
	snprintf(sock, sizeof(sock), "%s/hookd.sock", dir);
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(hooks, sizeof(hooks), "%s/hooks", dir);
	snprintf(path, sizeof(path), "mkdir -p %s/vms %s %s %s", conf, run, sys, hooks);
	if (system(path) != 0)
		return 1;
	/* 200 configured VMs; their prepare is never involved (reconnect only). */
	for (int i = 0; i < N_BURST; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/vms/vm%03d.ini", conf, i);
		f = fopen(path, "w");
		if (!f)
			return 1;
		fprintf(f, "[device.disk]\naddress = 0000:%02x:00.0\n", i % 256);
		fclose(f);
	}
	snprintf(env[0], sizeof(env[0]), "HOOKD_SOCKET=%s", sock);
	snprintf(env[1], sizeof(env[1]), "HOOKD_CONF_DIR=%s", conf);
	snprintf(env[2], sizeof(env[2]), "HOOKD_HOOKS_DIR=%s", hooks);
	for (int i = 0; i < 3; i++)
		putenv(env[i]);

	/* 1. The hook's fast path against /bin/true, interleaved in two halves to share any drift. */
	{
		char *hook_argv[] = { argv[2], "unmanaged-vm", "prepare", "begin", "-", NULL };

		t_true = time_sequential(true_argv, N_SEQ / 2);
		t_hook = time_sequential(hook_argv, N_SEQ / 2);
		t_true += time_sequential(true_argv, N_SEQ / 2);
		t_hook += time_sequential(hook_argv, N_SEQ / 2);
		printf("hook fast path: %.1f us per call, /bin/true %.1f us: ratio %.2fx (goal <= 2x)\n",
		       t_hook / N_SEQ * 1e6, t_true / N_SEQ * 1e6, t_hook / t_true);
	}

	/* 2. hookd, then 200 hook processes at once. */
	{
		char *daemon_argv[] = { argv[1],	"--conf-dir", conf,	  "--run-dir", run,
					"--sysfs-root", sys,	      "--socket", sock,	       NULL };
		int fd = -1;

		daemon_pid = spawn(daemon_argv);
		for (int i = 0; i < 1000 && client_connect(sock, &fd) < 0; i++)
			usleep(10000);
		if (fd < 0) {
			fprintf(stderr, "hookd did not start\n");
			return 1;
		}
		close(fd);
	}
	hwm_before = proc_status_kb(daemon_pid, "VmHWM");
	for (int i = 0; i < N_BURST; i++) {
		burst_argv[i] = calloc(6, sizeof(char *));
		burst_argv[i][0] = argv[2];
		if (asprintf(&burst_argv[i][1], "vm%03d", i) < 0)
			return 1;
		burst_argv[i][2] = "reconnect";
		burst_argv[i][3] = "begin";
		burst_argv[i][4] = "-";
		true_argvs[i] = true_argv;
	}
	/* The baseline before and after, averaged: the first burst of a run pays for cold caches. */
	t_burst_true = time_concurrent(true_argvs, N_BURST);
	t_burst = time_concurrent(burst_argv, N_BURST);
	t_burst_true = (t_burst_true + time_concurrent(true_argvs, N_BURST)) / 2;
	printf("200 events at once: %.1f ms, 200 /bin/true at once %.1f ms: ratio %.2fx; hookd VmHWM %ld kB "
	       "(%ld kB before)\n",
	       t_burst * 1e3, t_burst_true * 1e3, t_burst / t_burst_true, proc_status_kb(daemon_pid, "VmHWM"),
	       hwm_before);

	/* 3. Idle: nothing should wake hookd. */
	rss = proc_status_kb(daemon_pid, "VmRSS");
	sw0 = daemon_ctxt_switches();
	sleep((unsigned)idle_s);
	sw1 = daemon_ctxt_switches();
	printf("idle %d s: hookd VmRSS %ld kB, %ld context switches (goal: 0)\n", idle_s, rss, sw1 - sw0);

	kill(daemon_pid, SIGTERM);
	reap(daemon_pid, true);
	daemon_pid = 0;
	for (int i = 0; i < N_BURST; i++) {
		free(burst_argv[i][1]);
		free(burst_argv[i]);
	}
	return 0;
}
