/* What the fake kernel's files share: its state and the helpers that keep the tree. Tests include
 * fake-kernel.h, never this. Locking as the kernel's: a step that the kernel runs under the device lock takes
 * dev->lock first, then k->lock for the bookkeeping and the tree; a blocked step waits on k->cond with
 * dev->lock still held, so whatever needs the device lock queues behind it. Functions marked "k->lock held"
 * expect the caller to hold it. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake-kernel.h"

#define FK_FAULTS 4

struct fk_device {
	char address[13];
	char *driver;	      /* bound now; NULL when unbound */
	char *default_driver; /* what matches it without an override */
	char *override;	      /* NULL when empty */
	char *offered_resets; /* "flr bus"; NULL: the device has no reset_method attribute */
	pthread_mutex_t lock; /* the device lock */
	bool gone;
	bool armed[FK_FAULTS];
	unsigned skip[FK_FAULTS]; /* runs of the step that still go through before an armed fault */
	bool blocked;		  /* a step is waiting in the fake kernel */
	bool let_go;		  /* fk_unblock() was called for it */
};

struct fk_driver {
	char *name;
	char *module; /* NULL: built in */
};

struct fk_module {
	char *name;
	bool loaded;
	int users;
	char **depends; /* modules it holds, NULL-terminated */
};

/* One hugepage pool (fake-kernel-hugepages.c). */
struct fk_pool {
	unsigned node;
	uint64_t size_kib;
	uint64_t nr;	       /* pages in the pool, surplus included */
	uint64_t surplus;      /* in-use pages given up by a shrink, freed as they are let go */
	uint64_t used;	       /* pages processes hold */
	uint64_t available;    /* more pages the node can give (memory not fragmented into smaller pieces) */
	uint64_t compact_gain; /* what one compaction adds to available */
	unsigned ms_per_page;  /* the fake kernel's time one new page takes (fk_hugepages_set_cost) */
	uint64_t slow;	       /* more pages a write gets only by compacting as it goes (fk_hugepages_set_slow) */
	unsigned slow_ms_per_page;
};

struct fake_kernel {
	struct kernel kernel;
	const struct fixture *f;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* blocked, let_go and inflight changes */
	unsigned inflight;   /* writes in the fake kernel, counting those the engine gave up on */
	struct fk_device *devices;
	size_t n_devices;
	struct fk_driver *drivers;
	size_t n_drivers;
	struct fk_module *modules;
	size_t n_modules;
	char fbcon_gpu[13]; /* fk_fbcon_follows_probe(); "" when vtconsole binds take at once */
	bool fbcon_pending; /* a bind of 1 did not take: the next probe of fbcon_gpu brings fbcon back */
	char *log;
	size_t log_len;
	struct fk_pool *pools;
	size_t n_pools;
	unsigned compactions;	     /* node or whole-memory compactions asked for */
	unsigned long long clock_ms; /* the fake kernel's own time (fk_now_ms): what pool writes took */
	unsigned pool_writes;	     /* nr_hugepages writes, and the most pages one of them asked to add */
	uint64_t pool_largest_grow;
	char **managed_irqs; /* fk_irq_managed(): their smp_affinity_list refuses writes with -EIO */
	size_t n_managed_irqs;
	char *kept_irq, *kept_affinity; /* fk_irq_keeps(): a write to this IRQ leaves this affinity */
};

/* Allocation and strings: a failure ends the test. */
void *fk_xcalloc(size_t n, size_t size);
char *fk_xstrdup(const char *s);
char *fk_normalized(const char *name); /* '-' -> '_' */
void fk_logf(struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fk_sys_path(const struct fake_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fk_rm_rf(const char *path);      /* only inside /tmp/hookd-fixture-* */
char *fk_link_name(const char *path); /* last component of a symlink's target, or NULL */
char *fk_read_trimmed(const char *path);

/* Lookups and the tree (k->lock held). */
struct fk_device *fk_find_device(struct fake_kernel *k, const char *address);
struct fk_driver *fk_find_driver(struct fake_kernel *k, const char *name);
struct fk_module *fk_find_module(struct fake_kernel *k, const char *name);
struct fk_driver *fk_add_driver(struct fake_kernel *k, const char *name, const char *module);
bool fk_driver_registered(struct fake_kernel *k, const char *name);
const char *fk_matching_driver(struct fake_kernel *k, const struct fk_device *dev);
void fk_link_driver(struct fake_kernel *k, struct fk_device *dev, const char *driver);
void fk_unlink_driver(struct fake_kernel *k, struct fk_device *dev);
void fk_make_driver_dir(struct fake_kernel *k, const struct fk_driver *d);
void fk_remove_device_locked(struct fake_kernel *k, struct fk_device *dev);

/* The sysfs side (fake-kernel-sysfs.c). */
/* Probe DEV with DRIVER as really_probe does (k->lock held, and the device lock but in a module load);
 * false when the probe failed. */
bool fk_probe_locked(struct fake_kernel *k, struct fk_device *dev, const char *driver);
int fk_sysfs_write(void *data, const char *relpath, const char *value, unsigned timeout_ms);
int fk_proc_write(void *data, const char *relpath, const char *value, unsigned timeout_ms);
int fk_sysfs_write_stoppable(void *data, const char *relpath, const char *value, unsigned timeout_ms);
/* Run FN(K, A, B) on a thread of its own as the kernel runs a step for a writer: its result, or -ETIMEDOUT
 * as soon as it blocks (it goes on until the test lets it). */
int fk_run_job(struct fake_kernel *k, int (*fn)(struct fake_kernel *k, const char *a, const char *b), const char *a,
	       const char *b);

/* The hugepage side (fake-kernel-hugepages.c): a write under devices/system/node/ (k->lock not held). 1 when
 * RELPATH is not a hugepage pool's nr_hugepages nor a node's compact (a plain attribute), else 0 or -errno. */
/* A write under devices/system/node/ (TIMEOUT_MS: the writer's deadline): 1 when it is not a node attribute
 * the fake kernel models, else 0 or -errno. Runs on the writer's thread (it never blocks). */
int fk_node_write(struct fake_kernel *k, const char *relpath, const char *value, unsigned timeout_ms, bool stoppable);
/* /proc/sys/vm/compact_memory: every node compacted (k->lock held). */
void fk_compact_all_locked(struct fake_kernel *k);
