/* hookd: the daemon. Options, the sd-event loop, signals, the listening socket and sd_notify. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "hookd-config.h"
#include "instance-lock.h"
#include "config.h"
#include "engine.h"
#include "router.h"
#include "log.h"
#include "reconcile.h"
#include "server.h"
#include "util.h"

struct options {
	const char *conf_dir;
	const char *run_dir;
	const char *sysfs_root;
	const char *socket_path; /* NULL: RUN_DIR/hookd.sock */
	const char *libvirt_uri; /* "none": no reconciliation */
	const char *proc_root;
	uint64_t client_timeout_usec;
};

struct daemon_state {
	sd_event *event;
	struct router *router;
	struct server *server;
	struct reconcile *reconcile;
	unsigned stop_timeout_ms;
	bool stopping;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: hookd [OPTIONS]\n"
		   "Moves libvirt VMs' PCI devices to vfio-pci and back, on the events of its qemu hook.\n\n"
		   "  --conf-dir DIR     configuration (default " HOOKD_CONF_DIR ")\n"
		   "  --run-dir DIR      runtime state and journals (default " HOOKD_RUN_DIR ")\n"
		   "  --sysfs-root DIR   where sysfs is (default /sys; tests use a fixture tree)\n"
		   "  --socket PATH      listen here when not socket-activated (default RUN_DIR/hookd.sock)\n"
		   "  --client-timeout SECONDS\n"
		   "                     close a client that sends no complete request for this long (default 30;\n"
		   "                     0: never); a request being carried out is not limited by it\n"
		   "  --libvirt-uri URI  asked read-only which VMs run, to release what hookd holds for a VM that\n"
		   "                     stopped while it was not listening (default qemu:///system; none: never)\n"
		   "  --proc-root DIR    where proc is, to see who holds a device (default /proc; for tests)\n"
		   "  --help             this text\n"
		   "  --version          the version\n"
		   "Runs in the foreground. SIGHUP reloads the configuration; SIGTERM finishes running operations and "
		   "exits.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "conf-dir", required_argument, NULL, 'c' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "client-timeout", required_argument, NULL, 't' },
		{ "libvirt-uri", required_argument, NULL, 'L' },
		{ "proc-root", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .conf_dir = HOOKD_CONF_DIR,
			       .run_dir = HOOKD_RUN_DIR,
			       .sysfs_root = "/sys",
			       .libvirt_uri = "qemu:///system",
			       .proc_root = "/proc",
			       .client_timeout_usec = SERVER_DEFAULT_CLIENT_TIMEOUT_USEC };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o->conf_dir = optarg;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 's':
			o->sysfs_root = optarg;
			break;
		case 'L':
			o->libvirt_uri = optarg;
			break;
		case 'P':
			o->proc_root = optarg;
			break;
		case 'S':
			o->socket_path = optarg;
			break;
		case 't': {
			char *end;
			double secs;

			errno = 0;
			secs = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(secs >= 0) || secs > 86400) {
				fprintf(stderr, "hookd: --client-timeout takes seconds from 0 to 86400, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->client_timeout_usec = (uint64_t)(secs * 1e6);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hookd %s (protocol %d)\n", HOOKD_VERSION, HOOKD_PROTO_VERSION);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hookd: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/* The socket systemd passed, or our own at path (0660: the group is the gate for Status and Check). */
static int open_listen_socket(const char *path, bool *ret_own)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old_umask;
	int n, r;

	n = sd_listen_fds(1);
	if (n < 0)
		return n;
	if (n > 1) {
		log_error("systemd passed %d sockets; hookd expects one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error("the socket systemd passed is not a listening unix stream socket");
			return -EINVAL;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			return -errno;
		*ret_own = false;
		return TAKE_FD(fd);
	}

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket left by a previous run is replaced; anything else at that path is not ours to delete. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) < 0)
			return -errno;
	}
	old_umask = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (r < 0) {
		r = -errno;
		log_error("cannot bind %s: %s", path, strerror(errno));
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0)
		return -errno;
	*ret_own = true;
	return TAKE_FD(fd);
}

/* One hookd per run dir: RUN_DIR/hookd.lock (instance-lock.h), flock'd for the daemon's life (the kernel drops it when the
 * process dies, so a kill -9 leaves nothing stale). A second instance would mark the first one's journals
 * interrupted and take its socket: it must stop before touching either. Returns the fd to keep open. */
static int take_instance_lock(const char *run_dir)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/" DAEMON_LOCK_NAME, run_dir) < 0)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int r = -errno;

		log_error("cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		if (errno == EWOULDBLOCK)
			log_error("another hookd is running on %s (it holds %s); not starting", run_dir, path);
		else
			log_error("cannot lock %s: %s", path, strerror(errno));
		return r;
	}
	return TAKE_FD(fd);
}

static void on_idle_exit(void *userdata)
{
	struct daemon_state *d = userdata;

	sd_event_exit(d->event, 0);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon_state *d = userdata;

	log_error("%u operations still running after %u ms; exiting anyway", router_running(d->router),
		  d->stop_timeout_ms);
	return sd_event_exit(d->event, 0);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon_state *d = userdata;
	uint64_t stop_usec;

	if (si->ssi_signo == SIGHUP) {
		struct diag diag = { 0 };

		(void)router_reload(d->router, &diag);
		diag_clear(&diag);
		return 0;
	}
	if (d->stopping)
		return 0;
	d->stopping = true;
	log_info("stopping: %u operations to finish", router_running(d->router));
	/* Bounded: an operation has its own deadline, plus a little for its rollback to be reported. systemd is
	 * told the same bound (plus a second), so the unit's TimeoutStopSec= never cuts a rollback short. */
	stop_usec = (uint64_t)d->stop_timeout_ms * 1000ull + 2000000ull;
	sd_notifyf(0, "STOPPING=1\nSTATUS=Finishing running operations\nEXTEND_TIMEOUT_USEC=%" PRIu64,
		   stop_usec + (uint64_t)1000000);
	server_stop_accepting(d->server);
	sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, stop_usec, 0, on_stop_timeout, d);
	router_shutdown(d->router, on_idle_exit, d);
	return 0;
}

static int run(const struct options *o)
{
	struct daemon_state d = { 0 };
	struct engine *engine = NULL;
	struct hookd_config *cfg = NULL;
	_cleanup_free_ char *default_socket = NULL;
	const char *socket_path = o->socket_path;
	bool own_socket = false;
	_cleanup_close_ int instance_lock = -1;
	unsigned libvirt_timeout_ms;
	sigset_t mask;
	int fd, r;

	if (mkdir(o->run_dir, 0755) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", o->run_dir, strerror(errno));
		return -errno;
	}
	/* Before anything that reads or changes the run dir, the journals or the socket. */
	instance_lock = take_instance_lock(o->run_dir);
	if (instance_lock < 0)
		return instance_lock;
	/* Each file on its own: a broken VM file disables that VM, a broken hookd.conf gives the defaults. */
	r = hookd_config_load_each(o->conf_dir, &cfg);
	if (r < 0) {
		log_error("cannot read the configuration in %s: %s", o->conf_dir, strerror(-r));
		return r;
	}
	router_log_config_problems(cfg);
	d.stop_timeout_ms = cfg->operation_timeout_ms;
	libvirt_timeout_ms = cfg->sysfs_timeout_ms;

	/* Modules belong to the running kernel: change them only when the devices are its own. */
	r = engine_new(&(struct engine_options){ .sysfs_root = o->sysfs_root,
						 .proc_root = o->proc_root,
						 .change_modules = kernel_sysfs_root_is_live(o->sysfs_root),
						 .run_dir = o->run_dir,
						 .sysfs_timeout_ms = cfg->sysfs_timeout_ms,
						 .operation_timeout_ms = cfg->operation_timeout_ms },
		       &engine);
	if (r < 0) {
		hookd_config_free(cfg);
		log_error("cannot start the device engine: %s", strerror(-r));
		return r;
	}
	r = engine_recover(engine);
	if (r < 0)
		log_warning("reading the journals in %s/state: %s", o->run_dir, strerror(-r));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&d.event);
	if (r < 0)
		goto out;
	r = router_new(d.event, engine, o->conf_dir, TAKE_PTR(cfg), &d.router);
	if (r < 0)
		goto out;
	if (!socket_path) {
		if (asprintf(&default_socket, "%s/hookd.sock", o->run_dir) < 0) {
			r = -ENOMEM;
			goto out;
		}
		socket_path = default_socket;
	}
	fd = open_listen_socket(socket_path, &own_socket);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	r = server_new(d.event, fd, router_handle_request, d.router, &d.server);
	if (r >= 0)
		server_set_client_timeout(d.server, o->client_timeout_usec);
	if (r < 0)
		goto out;
	router_set_server(d.router, d.server);
	/* Bounded like one sysfs write: an answer later than that is too old to act on. */
	r = reconcile_new(d.event, engine,
			  &(struct reconcile_options){ .libvirt_uri = o->libvirt_uri,
						       .proc_root = o->proc_root,
						       .libvirt_timeout_usec = (uint64_t)libvirt_timeout_ms * 1000ull },
			  router_reconcile_release, d.router, &d.reconcile);
	if (r < 0)
		goto out;
	router_set_reconcile(d.router, d.reconcile);
	reconcile_request(d.reconcile, "start-up");
	if ((r = sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d)) < 0 ||
	    (r = sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d)) < 0 ||
	    (r = sd_event_add_signal(d.event, NULL, SIGHUP, on_signal, &d)) < 0)
		goto out;

	log_info("hookd %s ready on %s (conf %s, sysfs %s)", HOOKD_VERSION,
		 own_socket ? socket_path : "the socket systemd passed", o->conf_dir, o->sysfs_root);
	sd_notify(0, "READY=1\nSTATUS=Running");
	r = sd_event_loop(d.event);
	log_info("stopped");
out:
	if (r < 0)
		log_error("hookd: %s", strerror(-r));
	if (own_socket)
		unlink(socket_path);
	/* Operations cut off by the stop timeout (or a status read stuck on a device) still run on their
	 * threads: leave what they use alone. */
	if (!d.router || router_threads_done(d.router)) {
		server_free(d.server);
		router_free(d.router);
		reconcile_free(d.reconcile);
		engine_free(engine);
	}
	hookd_config_free(cfg);
	sd_event_unref(d.event);
	return r;
}

int main(int argc, char **argv)
{
	struct options o;
	int r;

	log_setup("hookd");
	r = parse_options(argc, argv, &o);
	if (r <= 0)
		return r < 0 ? 2 : 0;
	return run(&o) < 0 ? 1 : 0;
}
