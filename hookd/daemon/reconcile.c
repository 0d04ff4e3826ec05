#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "clock.h"
#include "holders.h"
#include "log.h"
#include "reconcile.h"
#include "util.h"

/* While libvirt is unreachable, try again this often: its restart is when releases were missed. */
#define RECONCILE_RETRY_USEC (30ull * 1000000ull)

struct release_candidate {
	char *vm;
	char *why;
};

/* One pass: filled by the helper thread, read by the loop after the eventfd says it is done. */
struct pass {
	struct engine *engine;
	char *libvirt_uri;
	char *proc_root;
	unsigned long long started_ms;
	bool abandoned; /* the loop stopped waiting (libvirt too slow): the result is dropped */
	bool libvirt_unreachable;
	char *summary; /* one line for status */
	struct release_candidate *release;
	size_t n_release;
};

struct reconcile {
	sd_event *event;
	struct engine *engine;
	char *libvirt_uri;
	char *proc_root;
	uint64_t libvirt_timeout_usec;
	reconcile_release_fn release;
	void *userdata;
	int efd;
	sd_event_source *efd_source;
	sd_event_source *deadline; /* the running pass's bound */
	sd_event_source *retry;	   /* the next pass while libvirt is unreachable */
	pthread_mutex_t lock;	   /* guards done */
	struct pass *done;	   /* handed from the helper to the loop */
	struct pass *running;	   /* owned by the helper until it hands it back */
	bool again;		   /* another pass was asked for while one ran */
	unsigned passes;
	char *last; /* the last pass's summary */
};

static void pass_free(struct pass *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_release; i++) {
		free(p->release[i].vm);
		free(p->release[i].why);
	}
	free(p->release);
	free(p->summary);
	free(p->libvirt_uri);
	free(p->proc_root);
	free(p);
}

static void quiet(void *userdata, virErrorPtr err)
{
	/* libvirt prints every error on stderr by default; a pass reports what matters itself. */
}

/* Is the domain running? 1 yes, 0 no (or not defined), <0 unknown. */
static int domain_running(virConnectPtr conn, const char *name)
{
	virDomainPtr dom = virDomainLookupByName(conn, name);
	int r;

	if (!dom)
		return virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? 0 : -EIO;
	r = virDomainIsActive(dom);
	virDomainFree(dom);
	return r < 0 ? -EIO : r;
}

/* A process holding one of the VFIO groups GROUPS[N] open (/dev/vfio/<group>, the holder scan's, holders.h),
 * in one pass over /proc for them all: its pid and *RET_GROUP the group it holds; 0 when none; <0 when a
 * process's fds cannot be read: then nobody can tell, and nothing is released. */
static long vfio_group_holder(const char *proc_root, const int *groups, size_t n, int *ret_group)
{
	const struct topology t = { .proc_root = proc_root };
	struct device_nodes nodes = { 0 };
	struct holders found = { 0 };
	char node[64];
	long pid;
	int r = 0;

	*ret_group = n ? groups[0] : -1;
	for (size_t g = 0; g < n && r >= 0; g++) {
		snprintf(node, sizeof(node), "/dev/vfio/%d", groups[g]);
		r = device_nodes_add(&nodes, node, DEVICE_NODE_CHAR, 0, 0);
	}
	if (r >= 0)
		r = holders_scan_nodes(&(struct holder_scan_ctx){ .topo = &t }, &nodes, &found);
	device_nodes_clear(&nodes);
	pid = r < 0 ? r : found.n > 0 ? (long)found.v[0].pid : found.n_unreadable > 0 ? -EACCES : 0;
	/* Which group the first holder has open: the first of its nodes. */
	if (found.n > 0 && found.v[0].what && found.v[0].what[0])
		(void)sscanf(found.v[0].what[0], "/dev/vfio/%d", ret_group);
	holders_clear(&found);
	return pid;
}

static int add_release(struct pass *p, const char *vm, const char *why)
{
	struct release_candidate *grown = realloc(p->release, (p->n_release + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	p->release = grown;
	grown[p->n_release] = (struct release_candidate){ .vm = strdup(vm), .why = strdup(why) };
	p->n_release++;
	return grown[p->n_release - 1].vm && grown[p->n_release - 1].why ? 0 : -ENOMEM;
}

/* Whatever a release gives back: the devices' groups, modules, the console, and the host changes (a release
 * killed once the devices were back leaves only those). */
static bool held_anything(const struct engine_held_vm *h)
{
	return h->n_groups > 0 || h->holds_modules || h->holds_console || h->holds_host_changes;
}

static void run_pass(struct pass *p)
{
	struct engine_held_vm *held = NULL;
	virConnectPtr conn = NULL;
	size_t n = 0, holding = 0, running = 0, busy = 0;
	int r;

	r = engine_held_vms(p->engine, &held, &n);
	if (r < 0) {
		(void)!asprintf(&p->summary, "the journals cannot be read: %s", strerror(-r));
		return;
	}
	for (size_t i = 0; i < n; i++)
		holding += held_anything(&held[i]);
	if (holding == 0) {
		(void)!asprintf(&p->summary, "hookd holds nothing for any VM");
		goto out;
	}
	conn = virConnectOpenReadOnly(p->libvirt_uri);
	if (!conn) {
		virErrorPtr e = virGetLastError();

		p->libvirt_unreachable = true;
		(void)!asprintf(&p->summary, "libvirt (%s) cannot be reached, so nothing is released: %s",
				p->libvirt_uri, e && e->message ? e->message : "unknown error");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct engine_held_vm *h = &held[i];
		char why[512], groups[256] = "";
		size_t off = 0;
		long pid = 0;
		int group = -1;

		if (!held_anything(h))
			continue;
		r = domain_running(conn, h->name);
		if (r != 0) {
			running++; /* running, or unknown: either way not ours to release */
			continue;
		}
		/* No group held (only host changes left): nobody can hold one; no scan. */
		pid = h->n_groups ? vfio_group_holder(p->proc_root, h->iommu_groups, h->n_groups, &group) : 0;
		for (size_t g = 0; g < h->n_groups; g++)
			off += (size_t)snprintf(groups + off, off < sizeof(groups) ? sizeof(groups) - off : 0, "%s%d",
						g ? ", " : "", h->iommu_groups[g]);
		if (pid != 0) {
			busy++;
			log_ctx(LOG_WARNING, h->name, "reconcile", NULL,
				pid > 0 ? "libvirt does not run it, but process %ld holds VFIO group %d: not released"
					: "libvirt does not run it, but %ld: cannot tell who holds VFIO group %d: not "
					  "released",
				pid, group);
			continue;
		}
		snprintf(why, sizeof(why), "libvirt does not run it and no process holds its VFIO groups (%s)",
			 h->n_groups ? groups : "none");
		if (add_release(p, h->name, why) < 0)
			break;
	}
	(void)!asprintf(&p->summary,
			"%zu VMs held: %zu to release, %zu running (or unknown to libvirt), %zu with "
			"VFIO groups still open",
			holding, p->n_release, running, busy);
out:
	if (conn)
		virConnectClose(conn);
	engine_held_vms_free(held, n);
}

static void *pass_thread(void *userdata)
{
	struct reconcile *r = userdata;
	struct pass *p = r->running;
	uint64_t one = 1;

	run_pass(p);
	pthread_mutex_lock(&r->lock);
	r->done = p;
	pthread_mutex_unlock(&r->lock);
	if (write(r->efd, &one, sizeof(one)) < 0)
		log_error("cannot wake the event loop: %s", strerror(errno));
	return NULL;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	reconcile_request(userdata, "libvirt was unreachable");
	return 0;
}

static int on_pass_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct reconcile *r = userdata;

	/* The helper still waits for libvirt: whatever it learns now is too old to act on. */
	r->running->abandoned = true;
	free(r->last);
	if (asprintf(&r->last, "libvirt (%s) did not answer within %llu ms, so nothing is released", r->libvirt_uri,
		     (unsigned long long)(r->libvirt_timeout_usec / 1000)) < 0)
		r->last = NULL;
	log_warning("reconcile: %s", r->last ? r->last : "libvirt did not answer");
	return 0;
}

static void start_pass(struct reconcile *r);

static int on_pass_done(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
	struct reconcile *r = userdata;
	struct pass *p;
	uint64_t n;

	if (read(r->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warning("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&r->lock);
	p = TAKE_PTR(r->done);
	pthread_mutex_unlock(&r->lock);
	if (!p)
		return 0;
	r->running = NULL;
	r->deadline = sd_event_source_disable_unref(r->deadline);
	r->passes++;
	if (!p->abandoned) {
		free(r->last);
		r->last = TAKE_PTR(p->summary);
		log_info("reconcile: %s", r->last ? r->last : "done");
		for (size_t i = 0; i < p->n_release; i++)
			r->release(r->userdata, p->release[i].vm, p->release[i].why, p->started_ms);
	}
	if (p->libvirt_unreachable || p->abandoned)
		(void)sd_event_add_time_relative(r->event, NULL, CLOCK_MONOTONIC, RECONCILE_RETRY_USEC, 0, on_retry, r);
	pass_free(p);
	if (r->again) {
		r->again = false;
		start_pass(r);
	}
	return 0;
}

static void start_pass(struct reconcile *r)
{
	pthread_attr_t attr;
	pthread_t thread;
	struct pass *p = calloc(1, sizeof(*p));
	int e;

	if (!p || !(p->libvirt_uri = strdup(r->libvirt_uri)) || !(p->proc_root = strdup(r->proc_root))) {
		pass_free(p);
		log_error("reconcile: out of memory");
		return;
	}
	p->engine = r->engine;
	p->started_ms = monotonic_ms();
	r->running = p;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&thread, &attr, pass_thread, r);
	pthread_attr_destroy(&attr);
	if (e) {
		r->running = NULL;
		pass_free(p);
		log_error("reconcile: cannot start a thread: %s", strerror(e));
		return;
	}
	(void)sd_event_add_time_relative(r->event, &r->deadline, CLOCK_MONOTONIC, r->libvirt_timeout_usec, 0,
					 on_pass_deadline, r);
}

void reconcile_request(struct reconcile *r, const char *reason)
{
	if (!r)
		return;
	log_debug("reconcile: a pass for %s", reason);
	if (r->running) {
		r->again = true;
		return;
	}
	start_pass(r);
}

json_object *reconcile_status(const struct reconcile *r)
{
	json_object *o;

	if (!r)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "libvirt_uri", json_object_new_string(r->libvirt_uri));
	json_object_object_add(o, "passes", json_object_new_int64(r->passes));
	json_object_object_add(o, "last", r->last ? json_object_new_string(r->last) : NULL);
	return o;
}

int reconcile_new(sd_event *event, struct engine *engine, const struct reconcile_options *opts,
		  reconcile_release_fn release, void *userdata, struct reconcile **ret)
{
	struct reconcile *r;
	int e;

	*ret = NULL;
	if (!opts->libvirt_uri || streq(opts->libvirt_uri, "none"))
		return 0;
	if (virInitialize() < 0)
		return -EIO;
	virSetErrorFunc(NULL, quiet);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->event = sd_event_ref(event);
	r->engine = engine;
	r->release = release;
	r->userdata = userdata;
	r->libvirt_timeout_usec = opts->libvirt_timeout_usec;
	r->libvirt_uri = strdup(opts->libvirt_uri);
	r->proc_root = strdup(opts->proc_root ? opts->proc_root : "/proc");
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!r->libvirt_uri || !r->proc_root || r->efd < 0) {
		e = r->efd < 0 ? -errno : -ENOMEM;
		reconcile_free(r);
		return e;
	}
	e = sd_event_add_io(event, &r->efd_source, r->efd, EPOLLIN, on_pass_done, r);
	if (e < 0) {
		reconcile_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

bool reconcile_busy(const struct reconcile *r)
{
	return r && r->running;
}

void reconcile_free(struct reconcile *r)
{
	if (!r)
		return;
	sd_event_source_disable_unref(r->deadline);
	sd_event_source_disable_unref(r->efd_source);
	if (r->efd >= 0)
		close(r->efd);
	pass_free(r->done);
	pthread_mutex_destroy(&r->lock);
	free(r->libvirt_uri);
	free(r->proc_root);
	free(r->last);
	sd_event_unref(r->event);
	free(r);
}
