/* The holder scan: one pass over the proc root's processes, each read once (fd/, maps, and for a holder its
 * comm, status and cgroup), matched against a device's nodes. Read-only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "holders.h"
#include "procinfo.h"
#include "util.h"

/* Largest /proc/PID/{comm,status,cgroup} read; the kernel's are far smaller. */
#define PROC_SMALL_FILE_MAX (64u * 1024u)

static void holder_clear(struct holder *h)
{
	free(h->comm);
	free(h->user);
	free(h->unit);
	free(h->user_unit);
	free(h->session);
	strv_free(h->what);
}

void holders_clear(struct holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		holder_clear(&h->v[i]);
	free(h->v);
	*h = (struct holders){ 0 };
}

static struct holder *holders_grow(struct holders *h)
{
	struct holder *grown = realloc(h->v, (h->n + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	h->v = grown;
	grown[h->n] = (struct holder){ 0 };
	return &grown[h->n++];
}

/* The running system's /proc, with its /sys (or no sysfs at all: nodes known by path only). Only then is an
 * fd's device number compared with a node's: a fixture's numbers (226:0) are the host's real ones too. */
static bool proc_root_is_live(const struct topology *t)
{
	return streq(t->proc_root, "/proc") && (!t->sysfs_root || streq(t->sysfs_root, "/sys"));
}

static const struct device_node *node_by_path(const struct device_nodes *nodes, const char *path)
{
	size_t lo = 0, hi = nodes->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, nodes->v[mid].path);

		if (c == 0)
			return &nodes->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct device_node *node_by_number(const struct device_nodes *nodes, const struct stat *st)
{
	enum device_node_type type;

	if (S_ISCHR(st->st_mode))
		type = DEVICE_NODE_CHAR;
	else if (S_ISBLK(st->st_mode))
		type = DEVICE_NODE_BLOCK;
	else
		return NULL;
	for (size_t i = 0; i < nodes->n; i++)
		if (nodes->v[i].type == type && (nodes->v[i].major || nodes->v[i].minor) &&
		    nodes->v[i].major == major(st->st_rdev) && nodes->v[i].minor == minor(st->st_rdev))
			return &nodes->v[i];
	return NULL;
}

/* A sysfs file of the function ("resource0"): the part of PATH after a SYSFS node's prefix, or NULL. */
static const char *sysfs_file(const struct device_nodes *nodes, const char *path)
{
	for (size_t i = 0; i < nodes->n; i++) {
		const struct device_node *n = &nodes->v[i];
		size_t len = strlen(n->path);

		if (n->type == DEVICE_NODE_SYSFS && strncmp(path, n->path, len) == 0 && !strchr(path + len, '/')) {
			const char *slash = strrchr(n->path, '/');

			return path + (slash ? (size_t)(slash + 1 - n->path) : 0);
		}
	}
	return NULL;
}

/* What a process has open or mapped at PATH (its fd link or maps path), in the holder's words, or NULL.
 * ST: what the fd is, when known (the live /proc), so a node is recognised by its number. */
static const char *match(const struct device_nodes *nodes, const char *path, const struct stat *st)
{
	const struct device_node *n = NULL;

	if (startswith(path, "/sys/"))
		return sysfs_file(nodes, path);
	if (st) {
		n = node_by_number(nodes, st);
		if (!n) {
			/* A node whose number is unknown (nvidia-uvm's) is known by its path alone. */
			n = node_by_path(nodes, path);
			if (n && (n->major || n->minor))
				n = NULL;
		}
	} else if (startswith(path, "/dev/"))
		n = node_by_path(nodes, path);
	return n ? n->path : NULL;
}

static int add_what(char ***what, size_t *n, const char *prefix, const char *thing)
{
	_cleanup_free_ char *s = NULL;

	if (asprintf(&s, "%s%s", prefix, thing) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		if (streq((*what)[i], s))
			return 0;
	return strv_push(what, n, s);
}

/* The fd links of process DIR (an open /proc/PID). 0; -EACCES (or another -errno) when they cannot be read;
 * -ENOENT when the process is gone. */
static int scan_fds(int pid_dir, bool live, const struct device_nodes *sets, size_t n_sets, char ***what,
		    size_t *n_what)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	fd = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char target[4096];
		const char *thing;
		struct stat st;
		bool have_st = false;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (len < 0 && (errno == EACCES || errno == EPERM))
			return -errno; /* listed, but not ours to read (ptrace's access check) */
		if (len <= 0)
			continue; /* closed meanwhile */
		target[len] = '\0';
		if (target[0] != '/')
			continue; /* socket:[...], pipe:[...], anon_inode:... */
		/* On the live /proc, a /dev path is checked by what it is: the node may be opened under another
		 * name (a container's /dev). Other paths are regular files, or sysfs files known by path. */
		if (live && startswith(target, "/dev/"))
			have_st = fstatat(dirfd(d), de->d_name, &st, 0) == 0;
		if (live && startswith(target, "/dev/") && !have_st)
			continue;
		for (size_t k = 0; k < n_sets; k++) {
			thing = match(&sets[k], target, have_st ? &st : NULL);
			if (thing && (r = add_what(&what[k], &n_what[k], "", thing)) < 0)
				return r;
		}
	}
	return 0;
}

/* The mapped files of process DIR. 0 or -errno as scan_fds. */
static int scan_maps(int dirfd, const struct device_nodes *sets, size_t n_sets, char ***what, size_t *n_what)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int fd, r;

	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		/* The earlier fields hold no '/': a cheap look before the full parse. */
		const char *slash = strchr(line, '/'), *path, *thing;
		char copy[4096];
		size_t len;

		if (!slash || (!startswith(slash, "/dev/") && !startswith(slash, "/sys/")))
			continue;
		if (proc_maps_parse_line(line, &path, &len) < 0 || !path || len >= sizeof(copy))
			continue;
		memcpy(copy, path, len);
		copy[len] = '\0';
		for (size_t k = 0; k < n_sets; k++) {
			thing = match(&sets[k], copy, NULL);
			if (thing && (r = add_what(&what[k], &n_what[k], "mapped ", thing)) < 0)
				return r;
		}
	}
	return ferror(f) ? -EIO : 0;
}

static char *read_proc_file(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	char *text = NULL;

	if (fd < 0 || read_full_fd(fd, PROC_SMALL_FILE_MAX, &text, NULL) < 0)
		return NULL;
	return text;
}

static char *user_name(uid_t uid)
{
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) != 0 || !found)
		return NULL;
	return strdup(found->pw_name);
}

/* Name the holder H (pid already set) from its comm, status and cgroup. Missing files leave fields NULL: a
 * holder is reported even when it cannot be named. */
static int name_process(int dirfd, struct holder *h)
{
	_cleanup_free_ char *status = read_proc_file(dirfd, "status"), *cgroup = read_proc_file(dirfd, "cgroup");
	struct proc_cgroup cg;
	int r;

	h->comm = read_proc_file(dirfd, "comm");
	if (h->comm)
		h->comm[strcspn(h->comm, "\n")] = '\0';
	if (status && proc_status_uid(status, &h->uid) == 0) {
		h->has_uid = true;
		h->user = user_name(h->uid);
	}
	if (cgroup) {
		r = proc_cgroup_parse(cgroup, &cg);
		if (r == -ENOMEM)
			return r;
		if (r == 0) {
			h->unit = cg.unit;
			h->user_unit = cg.user_unit;
			h->session = cg.session;
		}
	}
	return 0;
}

/* A process without memory of its own holds no device: a kernel thread (most of /proc on a server), or one
 * exiting, past giving back its memory and about to close its files. Its exe link is the one read that tells
 * (ENOENT), where looking in its fd/ and maps takes seven. Another user's process (EACCES) is looked at. */
static bool has_no_memory(int dirfd)
{
	char c;

	return readlinkat(dirfd, "exe", &c, 1) < 0 && errno == ENOENT;
}

/* Read process NAME once and match what it has open or mapped against each of the N_SETS node sets: a
 * holder of set K is added to RETS[K], with only what it holds of that set. */
static int scan_process(int procfd, const char *name, pid_t pid, bool live, const struct device_nodes *sets,
			size_t n_sets, struct holders *rets)
{
	_cleanup_close_ int dirfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **what[HOLDERS_SCAN_MAX_SETS] = { 0 };
	size_t n_what[HOLDERS_SCAN_MAX_SETS] = { 0 };
	struct holder *h;
	int r;

	if (dirfd < 0)
		return 0; /* gone */
	if (has_no_memory(dirfd))
		return 0;
	r = scan_fds(dirfd, live, sets, n_sets, what, n_what);
	if (r >= 0 || r == -ENOENT)
		r = scan_maps(dirfd, sets, n_sets, what, n_what) == -ENOMEM ? -ENOMEM : r;
	if (r < 0 && r != -ENOENT && r != -ENOMEM) {
		/* Not ours to read (another user's, without the privilege): what it holds is unknown, for every
		 * set alike. */
		for (size_t k = 0; k < n_sets; k++)
			if (rets[k].n_unreadable++ == 0)
				rets[k].first_unreadable = pid;
	}
	for (size_t k = 0; r != -ENOMEM && k < n_sets; k++) {
		if (n_what[k] == 0)
			continue;
		strv_sort(what[k]); /* fd/ lists in no particular order */
		h = holders_grow(&rets[k]);
		if (!h) {
			r = -ENOMEM;
			break;
		}
		h->kind = HOLDER_PROCESS;
		h->pid = pid;
		h->what = TAKE_PTR(what[k]);
		if (name_process(dirfd, h) < 0)
			r = -ENOMEM;
	}
	for (size_t k = 0; k < n_sets; k++)
		strv_free(what[k]);
	return r == -ENOMEM ? r : 0;
}

static int by_kind_then_pid(const void *a, const void *b)
{
	const struct holder *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The one pass over the proc root for N_SETS node sets (at most HOLDERS_SCAN_MAX_SETS), each set's holders
 * added to RETS[K]. 0, -ETIMEDOUT, -errno as holders_scan_nodes. */
static int scan_node_sets(const struct holder_scan_ctx *ctx, const struct device_nodes *sets, size_t n_sets,
			  struct holders *rets)
{
	const struct topology *t = ctx->topo;
	bool live = proc_root_is_live(t);
	_cleanup_closedir_ DIR *proc = NULL;
	size_t first_new[HOLDERS_SCAN_MAX_SETS];
	bool any_nodes = false;
	pid_t self = getpid();
	struct dirent *de;
	int r = 0;

	for (size_t k = 0; k < n_sets; k++) {
		first_new[k] = rets[k].n;
		any_nodes |= sets[k].n > 0;
	}
	if (!any_nodes)
		return 0;
	proc = opendir(t->proc_root);
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || de->d_name[0] == '0')
			continue;
		if (live && pid == self)
			continue;
		if (ctx->deadline_ms && monotonic_ms() >= ctx->deadline_ms) {
			r = -ETIMEDOUT;
			break;
		}
		r = scan_process(dirfd(proc), de->d_name, (pid_t)pid, live, sets, n_sets, rets);
		if (r < 0)
			break;
	}
	for (size_t k = 0; k < n_sets; k++)
		if (rets[k].n > first_new[k]) /* qsort and memcpy take no NULL, even for zero elements */
			qsort(rets[k].v + first_new[k], rets[k].n - first_new[k], sizeof(*rets[k].v), by_kind_then_pid);
	return r;
}

int holders_scan_nodes(const struct holder_scan_ctx *ctx, const struct device_nodes *nodes, struct holders *ret)
{
	return scan_node_sets(ctx, nodes, 1, ret);
}

/* Kernel users of plan device D: the disks behind the function, mounted, swapped on, below dm/md or held
 * exclusively. Added to *RET. */
static int add_kernel_users(const struct holder_scan_ctx *ctx, const struct plan_device *d, struct holders *ret)
{
	_cleanup_free_ char *storage = NULL;
	struct holder *h;
	int r;

	r = topology_storage_user(ctx->topo, d->address, &storage);
	if (r < 0 || !storage)
		return r;
	h = holders_grow(ret);
	if (!h)
		return -ENOMEM;
	h->kind = HOLDER_KERNEL;
	return strv_push(&h->what, &(size_t){ 0 }, storage);
}

int holders_scan_devices(const struct holder_scan_ctx *ctx, const struct plan_device *devices, size_t n,
			 struct holders *rets)
{
	struct device_nodes sets[HOLDERS_SCAN_MAX_SETS] = { 0 };
	bool present[HOLDERS_SCAN_MAX_SETS] = { 0 };
	int r = 0;

	if (n > HOLDERS_SCAN_MAX_SETS)
		return -E2BIG;
	for (size_t k = 0; k < n && r >= 0; k++) {
		r = device_nodes_of(ctx->topo, devices[k].address, devices[k].iommu_group, &sets[k]);
		present[k] = r >= 0;
		if (r == -ENODEV)
			r = 0; /* nothing holds a device that is not there; the checks say it is missing */
	}
	if (r >= 0)
		r = scan_node_sets(ctx, sets, n, rets);
	for (size_t k = 0; k < n; k++) {
		if (r >= 0 && present[k])
			r = add_kernel_users(ctx, &devices[k], &rets[k]);
		device_nodes_clear(&sets[k]);
	}
	return r;
}

int holders_scan(const struct holder_scan_ctx *ctx, const struct plan_device *d, struct holders *ret)
{
	return holders_scan_devices(ctx, d, 1, ret);
}

/* One bounded scan, shared by the caller and its thread; whichever lets go last frees it. */
struct scan_job {
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int result;
	char *sysfs_root, *proc_root, *dev_root;
	struct topology topo;
	struct holder_scan_ctx ctx;
	struct plan_device devices[HOLDERS_SCAN_MAX_SETS]; /* address and iommu_group only */
	size_t n_devices;
	struct holders found[HOLDERS_SCAN_MAX_SETS];
};

static void scan_job_unref(struct scan_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	for (size_t k = 0; k < j->n_devices; k++)
		holders_clear(&j->found[k]);
	free(j->sysfs_root);
	free(j->proc_root);
	free(j->dev_root);
	free(j);
}

static void *scanner(void *arg)
{
	struct scan_job *j = arg;
	struct holders found[HOLDERS_SCAN_MAX_SETS] = { 0 };
	int r = holders_scan_devices(&j->ctx, j->devices, j->n_devices, found);

	pthread_mutex_lock(&j->lock);
	j->result = r;
	memcpy(j->found, found, sizeof(found));
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	scan_job_unref(j);
	return NULL;
}

/* Move what FOUND holds to the end of *RET. 0 or -ENOMEM (FOUND then kept). */
static int holders_append(struct holders *ret, struct holders *found)
{
	struct holder *grown = found->n ? realloc(ret->v, (ret->n + found->n) * sizeof(*grown)) : ret->v;

	if (!grown && found->n)
		return -ENOMEM;
	ret->v = grown;
	if (found->n)
		memcpy(ret->v + ret->n, found->v, found->n * sizeof(*grown));
	ret->n += found->n;
	if (found->n_unreadable && ret->n_unreadable == 0)
		ret->first_unreadable = found->first_unreadable;
	ret->n_unreadable += found->n_unreadable;
	free(found->v);
	*found = (struct holders){ 0 };
	return 0;
}

int holders_scan_within(const struct holder_scan_ctx *ctx, const struct plan_device *d, unsigned timeout_ms,
			struct holders *ret)
{
	return holders_scan_devices_within(ctx, d, 1, timeout_ms, ret);
}

int holders_scan_devices_within(const struct holder_scan_ctx *ctx, const struct plan_device *devices, size_t n,
				unsigned timeout_ms, struct holders *rets)
{
	const struct topology *t = ctx->topo;
	struct scan_job *j = calloc(1, sizeof(*j));
	struct timespec deadline = monotonic_timespec_after_ms(timeout_ms);
	pthread_condattr_t cattr;
	pthread_attr_t tattr;
	pthread_t thread;
	int r;

	if (n > HOLDERS_SCAN_MAX_SETS) {
		free(j);
		return -E2BIG;
	}
	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 2);
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	j->sysfs_root = t->sysfs_root ? strdup(t->sysfs_root) : NULL;
	j->proc_root = strdup(t->proc_root);
	j->dev_root = t->dev_root ? strdup(t->dev_root) : NULL;
	if ((t->sysfs_root && !j->sysfs_root) || !j->proc_root || (t->dev_root && !j->dev_root)) {
		atomic_store(&j->refs, 1);
		scan_job_unref(j);
		return -ENOMEM;
	}
	j->topo = (struct topology){ .sysfs_root = j->sysfs_root, .proc_root = j->proc_root, .dev_root = j->dev_root };
	/* The thread's own loop stops at the same deadline, so an abandoned scan does not run on for long. */
	j->ctx = (struct holder_scan_ctx){ .topo = &j->topo, .deadline_ms = monotonic_ms() + timeout_ms };
	if (ctx->deadline_ms && ctx->deadline_ms < j->ctx.deadline_ms)
		j->ctx.deadline_ms = ctx->deadline_ms;
	for (size_t k = 0; k < n; k++) {
		memcpy(j->devices[k].address, devices[k].address, sizeof(j->devices[k].address));
		j->devices[k].iommu_group = devices[k].iommu_group;
	}
	j->n_devices = n;
	pthread_attr_init(&tattr);
	pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&thread, &tattr, scanner, j);
	pthread_attr_destroy(&tattr);
	if (r < 0) {
		atomic_store(&j->refs, 1);
		scan_job_unref(j);
		return r;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &deadline) == ETIMEDOUT)
			break;
	r = j->done ? j->result : -ETIMEDOUT;
	/* Append what the thread found to each *RET. */
	for (size_t k = 0; j->done && k < n; k++)
		if (holders_append(&rets[k], &j->found[k]) < 0)
			r = -ENOMEM;
	pthread_mutex_unlock(&j->lock);
	scan_job_unref(j);
	return r;
}

char *holder_name(const struct holder *h)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	if (h->kind == HOLDER_KERNEL)
		return strdup(h->what && h->what[0] ? h->what[0] : "the kernel");
	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	fprintf(f, "pid %d (%s", (int)h->pid, h->comm && *h->comm ? h->comm : "?");
	if (h->user)
		fprintf(f, ", user %s", h->user);
	else if (h->has_uid)
		fprintf(f, ", uid %u", (unsigned)h->uid);
	if (h->user_unit && h->unit)
		fprintf(f, ", %s of %s", h->user_unit, h->unit);
	else if (h->session)
		fprintf(f, ", session %s", h->session);
	else if (h->unit)
		fprintf(f, ", %s", h->unit);
	fputc(')', f);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

char *holder_describe(const struct holder *h)
{
	_cleanup_free_ char *name = holder_name(h);
	char *s = NULL;
	size_t len = 0;
	FILE *f;

	if (!name)
		return NULL;
	if (h->kind == HOLDER_KERNEL)
		return TAKE_PTR(name);
	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	fprintf(f, "%s:", name);
	for (size_t i = 0; h->what && h->what[i]; i++)
		fprintf(f, "%s %s", i ? "," : "", h->what[i]);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}
