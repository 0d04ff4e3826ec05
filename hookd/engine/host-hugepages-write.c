/* HOST_HUGEPAGES, the write side: reserving pages relative to what a pool holds, with bounded compaction,
 * and giving back exactly a VM's ledger (host-hugepages.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "host-hugepages-size.h"
#include "host-changes.h"
#include "host-hugepages.h"
#include "log.h"
#include "util.h"

/* Every read-modify-write of a pool in this process: two VMs' jobs run on threads of their own. */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t hugepages_recovered_ledger(uint64_t before, uint64_t current, uint64_t wanted)
{
	if (current <= before)
		return 0;
	return current - before < wanted ? current - before : wanted;
}

static uint64_t persistent(const struct hugepages_pool *p)
{
	return p->nr > p->surplus ? p->nr - p->surplus : 0;
}

static int set_why(char **ret_why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_why(char **ret_why, const char *fmt, ...)
{
	va_list ap;
	int n;

	free(*ret_why);
	va_start(ap, fmt);
	n = vasprintf(ret_why, fmt, ap);
	va_end(ap);
	if (n < 0)
		*ret_why = NULL;
	return 0;
}

/* nr_hugepages = NR, STOPPABLE: past its deadline the write is stopped and waited for, so that the pool read
 * after it is final. A plain write would go on in the kernel while its writer has given up: growing, it
 * keeps allocating (holding the pool's resize lock, so that every later write of the pool waits for it);
 * shrinking, it frees pages after the ledger was read (a 5 ms deadline in the ASan build's guest cost the
 * host one of its own pages that way). */
static int write_nr(const struct hugepages_io *io, const char *target, uint64_t nr)
{
	char relpath[128], value[32];
	unsigned node;
	uint64_t size;

	if (hugepages_target_parse(target, &node, &size) < 0)
		return -EINVAL;
	snprintf(value, sizeof(value), "%" PRIu64, nr);
	return kernel_write_stoppable(io->kernel, hugepages_pool_relpath(node, size, "nr_hugepages", relpath), value,
				      io->write_timeout_ms);
}

/* Compact NODE's memory: its own compact attribute (stoppable: compaction ends at a fatal signal), else all
 * memory through compact_all. */
static int compact(const struct hugepages_io *io, unsigned node)
{
	_cleanup_free_ char *path = NULL;
	char relpath[64];
	struct stat st;

	snprintf(relpath, sizeof(relpath), "devices/system/node/node%u/compact", node);
	if (asprintf(&path, "%s/%s", io->sysfs_root, relpath) < 0)
		return -ENOMEM;
	if (stat(path, &st) == 0)
		return kernel_write_stoppable(io->kernel, relpath, "1", io->write_timeout_ms);
	if (io->compact_all)
		return io->compact_all(io->kernel, io->write_timeout_ms);
	return -EOPNOTSUPP;
}

/* compact() in a reservation, which goes on without it: a failure is logged; one stopped at its write's
 * deadline says memory gives pages too slowly for the time there is (*OUT_OF_TIME, when given). */
static int compact_logged(const struct hugepages_io *io, unsigned node, bool *out_of_time)
{
	int r = compact(io, node);

	if (r == -ETIMEDOUT || r == -EINPROGRESS) {
		log_debug("hugepages: compacting node %u: stopped at its write's deadline (%u ms)%s", node,
			  io->write_timeout_ms, r == -EINPROGRESS ? ", still going on" : "");
		if (out_of_time)
			*out_of_time = true;
	} else if (r < 0)
		log_debug("hugepages: compacting node %u: %s", node, strerror(-r));
	return r;
}

/* The first chunk, before any rate is known: 32 MiB of pages (one page at least). Even at the slowest rate
 * seen (QEMU under TCG on a loaded 2-core machine: ~700 MB in more than 60 s, ~11 MB/s) that is 3 s, inside
 * the engine's 10 s write deadline. */
#define FIRST_CHUNK_KIB (32ULL * 1024)
/* A chunk is sized to take at most this share of one write's deadline at the rate the last one measured:
 * room for memory that gets slower to give as it fills. */
#define CHUNK_DEADLINE_SHARE 4

static unsigned long long now_of(const struct hugepages_io *io)
{
	return io->now_ms ? io->now_ms(io->kernel) : monotonic_ms();
}

/* How the next chunk is sized, from the last one that obtained pages. */
struct chunker {
	uint64_t next;		    /* the most pages the next chunk may ask for */
	uint64_t rate_pages;	    /* the last chunk's pages obtained and the ms its write took */
	unsigned long long rate_ms; /* 0: no rate known (or too fast to measure) */
};

static struct chunker chunker_new(uint64_t size_kib)
{
	return (struct chunker){ .next = FIRST_CHUNK_KIB / size_kib ? FIRST_CHUNK_KIB / size_kib : 1 };
}

/* Pages of SIZE_KIB that NODE has ready: its free blocks of the page's order or larger in PROC_ROOT's
 * buddyinfo ("Node 0, zone   Normal  c0 c1 ... c10", free blocks per order), which the kernel hands out with
 * no compaction. 0 for a size above the buddy allocator's orders (1 GiB pages are never ready). 0; -ENOENT
 * when buddyinfo does not show the node; -errno of the read. */
static int ready_pages(const char *proc_root, unsigned node, uint64_t size_kib, uint64_t *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	uint64_t base_kib = (uint64_t)sysconf(_SC_PAGESIZE) / 1024, ready = 0;
	unsigned order = 0;
	bool seen = false;
	int r;

	while ((base_kib << order) < size_kib && order < 63)
		order++;
	if (asprintf(&path, "%s/buddyinfo", proc_root) < 0)
		return -ENOMEM;
	r = read_text_file(path, 64 * 1024, &text);
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		unsigned n, o = 0;
		int used = 0;
		char *p;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "Node %u, zone %*s%n", &n, &used) != 1 || used == 0 || n != node)
			continue;
		seen = true;
		for (p = line + used;; o++) {
			unsigned long long count;
			char *end;

			errno = 0;
			count = strtoull(p, &end, 10);
			if (end == p || errno)
				break;
			if (o >= order && o - order < 63)
				ready += (uint64_t)count << (o - order);
			p = end;
		}
	}
	if (!seen)
		return -ENOENT;
	*ret = ready;
	return 0;
}

/* Pages of the next chunk: at most c->next and LEFT, and what the last rate says fits in BUDGET_MS; 0 when
 * not even one page fits. */
static uint64_t chunk_pages(const struct chunker *c, uint64_t left, unsigned long long budget_ms)
{
	uint64_t n = c->next < left ? c->next : left;

	if (c->rate_ms) {
		/* rate_pages is at most a chunk and budget_ms a deadline: no overflow. */
		uint64_t fit = c->rate_pages * budget_ms / c->rate_ms;

		if (fit < n)
			n = fit;
	}
	return n;
}

/* A chunk of ASKED pages obtained OBTAINED in MS: the next may double it when it all came (the first pages
 * come easiest, so a rate never grows a chunk more than that). */
static void chunker_done(struct chunker *c, uint64_t asked, uint64_t obtained, unsigned long long ms)
{
	if (obtained) {
		c->rate_pages = obtained;
		c->rate_ms = ms;
	}
	if (obtained >= asked)
		c->next = asked > UINT64_MAX / 2 ? asked : asked * 2;
}

static unsigned long long chunk_budget_ms(const struct hugepages_io *io)
{
	return io->write_timeout_ms / CHUNK_DEADLINE_SHARE;
}

/* Shrink TARGET's persistent pages from FROM down to GOAL in chunks; *RET is the pool after. Pools lock
 * held. 0; -EBUSY when a write freed nothing; -errno of a write or a read. */
static int shrink_chunked(const struct hugepages_io *io, const char *target, uint64_t size_kib, uint64_t from,
			  uint64_t goal, struct hugepages_pool *ret)
{
	struct chunker c = chunker_new(size_kib);
	uint64_t cur = from, n;
	unsigned long long t0;
	int r;

	r = hugepages_pool_read(io->sysfs_root, target, ret);
	while (r == 0 && cur > goal) {
		n = chunk_pages(&c, cur - goal, chunk_budget_ms(io));
		if (n == 0)
			n = 1; /* freeing has no deadline of its own: one page at least */
		t0 = now_of(io);
		r = write_nr(io, target, cur - n);
		/* Stopped at its deadline: it freed what it freed by then. */
		if (r == 0 || r == -ETIMEDOUT)
			r = hugepages_pool_read(io->sysfs_root, target, ret);
		if (r < 0)
			break;
		if (persistent(ret) >= cur)
			return -EBUSY;
		chunker_done(&c, n, cur - persistent(ret), now_of(io) - t0);
		cur = persistent(ret);
	}
	return r;
}

int hugepages_reserve(const struct hugepages_io *io, const char *target, uint64_t wanted, uint64_t *ret_added,
		      struct hugepages_outcome *ret_outcome, char **ret_why)
{
	struct hugepages_pool p;
	struct chunker chunks, slow = { .next = 1 }, *kind;
	uint64_t base, cur, got = 0, ask, obtained, ready;
	unsigned node, compactions = 0, writes = 0;
	unsigned long long t0, now, budget;
	bool compacted = false, first = true, out_of_time = false, stopped;
	uint64_t size;
	char label[32];
	int r;

	*ret_added = 0;
	*ret_why = NULL;
	if (hugepages_target_parse(target, &node, &size) < 0)
		return -EINVAL;
	hugepages_size_label(size, label);
	chunks = chunker_new(size);
	pthread_mutex_lock(&pools_lock);
	r = hugepages_pool_read(io->sysfs_root, target, &p);
	if (r < 0) {
		set_why(ret_why, "hugepages: cannot read the pool of %s pages on node %u: %s", label, node,
			strerror(-r));
		goto out;
	}
	base = cur = persistent(&p);
	if (wanted > UINT64_MAX - base) {
		r = -EOVERFLOW;
		set_why(ret_why, "hugepages: %" PRIu64 " more pages of %s overflow node %u's pool", wanted, label,
			node);
		goto out;
	}
	/* Fewer pages ready than wanted: one compaction of the node up front makes them ready, cheaper than the
	 * kernel's direct compaction page by page inside the writes (the tutorial loop compacts first too). */
	if (io->proc_root && ready_pages(io->proc_root, node, size, &ready) == 0 && ready < wanted) {
		(void)compact_logged(io, node, NULL);
		compactions++;
	}
	while (got < wanted) {
		/* No chunk that would end past the deadline (the first one always runs: it is small). */
		now = now_of(io);
		budget = chunk_budget_ms(io);
		if (!first && now >= io->deadline_ms) {
			out_of_time = true;
			break;
		}
		if (!first && io->deadline_ms - now < budget)
			budget = io->deadline_ms - now;
		/* Ready pages in a chunk of their own; when none are ready, slow ones at their own rate. */
		kind = &chunks;
		if (io->proc_root && ready_pages(io->proc_root, node, size, &ready) == 0) {
			if (ready == 0)
				kind = &slow;
			else if (kind->next > ready)
				kind->next = ready;
		}
		ask = chunk_pages(kind, wanted - got, budget);
		if (ask == 0) {
			out_of_time = true;
			break;
		}
		first = false;
		t0 = now_of(io);
		writes++;
		r = write_nr(io, target, cur + ask);
		stopped = r == -ETIMEDOUT;
		if (r == 0 || stopped)
			r = hugepages_pool_read(io->sysfs_root, target, &p);
		if (r == -EINPROGRESS) {
			/* The pool may still grow: what is given back below is what it holds now. */
			set_why(ret_why,
				"hugepages: reserving %" PRIu64
				" pages of %s on node %u failed: the kernel did not stop "
				"a write of nr_hugepages within 10 s of its deadline",
				wanted, label, node);
			break;
		}
		if (r < 0) {
			set_why(ret_why, "hugepages: reserving %" PRIu64 " pages of %s on node %u failed: %s", wanted,
				label, node, strerror(-r));
			break;
		}
		obtained = persistent(&p) > cur ? persistent(&p) - cur : 0;
		log_debug("hugepages: node %u: a chunk of %" PRIu64 " %s pages obtained %" PRIu64 " in %llu ms%s", node,
			  ask, kind == &slow ? "slow" : "ready", obtained, now_of(io) - t0,
			  stopped ? " (stopped at its write's deadline)" : "");
		chunker_done(kind, ask, obtained, now_of(io) - t0);
		cur = persistent(&p);
		got = cur > base ? cur - base : 0;
		if (obtained >= ask) {
			compacted = false;
			continue;
		}
		/* Short: the free memory is in pieces smaller than a page. Compaction moves what can move; when
		 * a chunk right after one obtains nothing, another would find the same memory. */
		if ((compacted && obtained == 0) || compactions >= HUGEPAGES_COMPACTIONS_MAX)
			break;
		if (now_of(io) >= io->deadline_ms) {
			out_of_time = true;
			break;
		}
		compactions++;
		compacted = true;
		/* No way to compact, or one stopped at its deadline: another try would find the same memory. */
		if (compact_logged(io, node, &out_of_time) < 0)
			break;
	}
	if (r == 0 && got >= wanted) {
		/* More than asked means someone outside hookd wrote the pool meanwhile: the ledger is ours only. */
		*ret_added = wanted;
		goto out;
	}
	if (r == 0) {
		r = -ENOMEM;
		set_why(ret_why,
			"hugepages: only %" PRIu64 " of %" PRIu64
			" pages of %s could be reserved on node %u (%s, after %u compaction%s); none were kept",
			got, wanted, label, node,
			out_of_time ? "memory gave them too slowly for the time prepare has"
				    : "memory is too fragmented or too full",
			compactions, compactions == 1 ? "" : "s");
	}
	/* Give back exactly what was added: the pool as it was. */
	if (shrink_chunked(io, target, size, cur, base, &p) < 0 || persistent(&p) != base) {
		if (hugepages_pool_read(io->sysfs_root, target, &p) == 0)
			*ret_added = hugepages_recovered_ledger(base, persistent(&p), wanted);
		else
			*ret_added = wanted; /* unknown: the most this VM can have added */
		log_warning("hugepages: node %u's pool of %s pages did not shrink back to %" PRIu64 "; %" PRIu64
			    " pages stay in this VM's ledger",
			    node, label, base, *ret_added);
	}
out:
	pthread_mutex_unlock(&pools_lock);
	if (ret_outcome)
		*ret_outcome =
			(struct hugepages_outcome){ .obtained = got, .compactions = compactions, .writes = writes };
	return r;
}

int hugepages_give_back(const struct hugepages_io *io, const char *target, uint64_t pages, char **ret_why)
{
	unsigned long long until = monotonic_ms() + io->give_back_wait_ms;
	struct hugepages_pool p;
	uint64_t give, goal;
	unsigned node;
	uint64_t size;
	char label[32];
	int r;

	*ret_why = NULL;
	if (hugepages_target_parse(target, &node, &size) < 0)
		return -EINVAL;
	if (pages == 0)
		return 0;
	hugepages_size_label(size, label);
	pthread_mutex_lock(&pools_lock);
	for (;;) {
		r = hugepages_pool_read(io->sysfs_root, target, &p);
		if (r < 0) {
			set_why(ret_why, "hugepages: cannot read the pool of %s pages on node %u: %s", label, node,
				strerror(-r));
			goto out;
		}
		give = pages < persistent(&p) ? pages : persistent(&p);
		/* The VM's QEMU may still be letting go of its pages: wait for them, bounded. */
		if (p.free >= give || monotonic_ms() >= until)
			break;
		pthread_mutex_unlock(&pools_lock);
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
		pthread_mutex_lock(&pools_lock);
	}
	goal = persistent(&p) - give;
	r = shrink_chunked(io, target, size, persistent(&p), goal, &p);
	if (r < 0) {
		set_why(ret_why, "hugepages: giving back %" PRIu64 " pages of %s on node %u failed: %s", give, label,
			node, strerror(-r));
		goto out;
	}
	if (give < pages)
		set_why(ret_why,
			"hugepages: node %u's pool of %s pages held %" PRIu64 " fewer pages than this VM added "
			"(shrunk by someone else); gave back %" PRIu64,
			node, label, pages - give, give);
	else if (p.nr > goal)
		set_why(ret_why,
			"hugepages: %" PRIu64
			" pages of %s on node %u are still in use; the kernel frees them when they "
			"are let go",
			p.nr - goal, label, node);
	if (*ret_why)
		log_warning("%s", *ret_why);
out:
	pthread_mutex_unlock(&pools_lock);
	return r;
}

int hugepages_compact_all(const struct kernel *k, unsigned timeout_ms)
{
	return kernel_proc_write(k, "sys/vm/compact_memory", "1", timeout_ms);
}

static struct hugepages_io io_of(const struct host_context *ctx)
{
	unsigned long long now = monotonic_ms(), left = ctx->timeout_ms;

	/* The reservation gets half of what is left of the operation (one write's deadline at least): the other
	 * half is the devices' moves' and, when it falls short, its give-back's. */
	if (ctx->deadline_ms > now && (ctx->deadline_ms - now) / 2 > left)
		left = (ctx->deadline_ms - now) / 2;
	return (struct hugepages_io){
		.kernel = ctx->kernel,
		.sysfs_root = ctx->sysfs_root,
		.proc_root = ctx->proc_root,
		.compact_all = hugepages_compact_all,
		.write_timeout_ms = ctx->timeout_ms,
		.deadline_ms = now + left,
		.give_back_wait_ms = ctx->timeout_ms / 2,
	};
}

static int writer_apply(struct host_context *ctx, struct plan_host_change *c, const char *value, char **ret_why)
{
	struct hugepages_io io = io_of(ctx);
	uint64_t wanted, added = 0;
	int r;

	*ret_why = NULL;
	if (hugepages_count_parse(value, &wanted) < 0)
		return -EINVAL;
	r = hugepages_reserve(&io, c->target, wanted, &added, NULL, ret_why);
	hugepages_why_plain(ret_why);
	/* The ledger, also after a failure: 0 when the pool is as it was, else what stays to give back. */
	free(c->applied);
	if (asprintf(&c->applied, "%" PRIu64, added) < 0) {
		c->applied = NULL;
		return r < 0 ? r : -ENOMEM;
	}
	return r;
}

static int writer_restore(struct host_context *ctx, const struct plan_host_change *c, const char *value, char **ret_why)
{
	struct hugepages_io io = io_of(ctx);
	struct hugepages_pool pool;
	uint64_t pages, before, wanted;
	int r;

	(void)value; /* a ledger kind gives back exactly what the VM added */
	*ret_why = NULL;
	if (c->applied) {
		if (hugepages_count_parse(c->applied, &pages) < 0)
			return -EINVAL;
	} else {
		/* Killed between the journal's APPLYING and its ledger: what the pool grew by since BEFORE. */
		if (!c->before || hugepages_count_parse(c->before, &before) < 0 ||
		    hugepages_count_parse(c->wanted, &wanted) < 0)
			return -EINVAL;
		r = hugepages_pool_read(ctx->sysfs_root, c->target, &pool);
		if (r < 0)
			return r;
		pages = hugepages_recovered_ledger(before, pool.nr > pool.surplus ? pool.nr - pool.surplus : 0, wanted);
	}
	r = hugepages_give_back(&io, c->target, pages, ret_why);
	hugepages_why_plain(ret_why);
	if (r >= 0) {
		/* A note (pages still in use, a pool shrunk by hand) was logged; it is not a failure. */
		free(*ret_why);
		*ret_why = NULL;
	}
	return r;
}

const struct host_change_writer hugepages_writer = {
	.kind = HOST_HUGEPAGES,
	.apply = writer_apply,
	.restore = writer_restore,
};
