/* The fake kernel's hugepage pools (fake-kernel.h): nr_hugepages writes as hugetlb's set_max_huge_pages()
 * treats them, with a node's memory fragmentation and compaction modelled as a number of pages the node can
 * still give. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake-kernel-internal.h"
#include "util.h"

static struct fk_pool *find_pool(struct fake_kernel *k, unsigned node, uint64_t size_kib)
{
	for (size_t i = 0; i < k->n_pools; i++)
		if (k->pools[i].node == node && k->pools[i].size_kib == size_kib)
			return &k->pools[i];
	return NULL;
}

static struct fk_pool *pool_locked(struct fake_kernel *k, unsigned node, uint64_t size_kib)
{
	struct fk_pool *p;

	pthread_mutex_lock(&k->lock);
	p = find_pool(k, node, size_kib);
	CHECK(p);
	return p;
}

static void write_count(struct fake_kernel *k, const struct fk_pool *p, const char *attr, uint64_t v)
{
	_cleanup_free_ char *path = fk_sys_path(k, "devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB/%s",
						p->node, p->size_kib, attr);
	FILE *f = fopen(path, "w");

	CHECK(f);
	fprintf(f, "%" PRIu64 "\n", v);
	CHECK(fclose(f) == 0);
}

/* /proc/buddyinfo as the kernel shows it, for the 2 MiB pools' nodes (k->lock held): the pages a node has
 * ready (AVAILABLE) as free blocks of order 9; the slow ones are in smaller pieces. Only when the fixture
 * has a /proc/buddyinfo already (fk_hugepages_buddyinfo). */
static void show_buddyinfo(struct fake_kernel *k)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;

	CHECK(asprintf(&path, "%s/buddyinfo", k->f->proc) >= 0);
	if (access(path, F_OK) < 0)
		return;
	f = fopen(path, "w");
	CHECK(f);
	for (size_t i = 0; i < k->n_pools; i++)
		if (k->pools[i].size_kib == 2048)
			fprintf(f, "Node %u, zone   Normal   %6" PRIu64 " 0 0 0 0 0 0 0 0 %6" PRIu64 " 0\n",
				k->pools[i].node, k->pools[i].slow * 512, k->pools[i].available);
	CHECK(fclose(f) == 0);
}

/* The pool's files as sysfs shows them (k->lock held). */
static void show(struct fake_kernel *k, const struct fk_pool *p)
{
	show_buddyinfo(k);
	write_count(k, p, "nr_hugepages", p->nr);
	write_count(k, p, "free_hugepages", p->nr - p->used);
	write_count(k, p, "surplus_hugepages", p->surplus);
}

/* Surplus pages that are free go back to the node at once. */
static void free_surplus(struct fk_pool *p)
{
	uint64_t n = p->surplus < p->nr - p->used ? p->surplus : p->nr - p->used;

	p->surplus -= n;
	p->nr -= n;
	p->available += n;
}

/* set_max_huge_pages(COUNT): COUNT is the persistent pages wanted. Returns the pages it had to allocate. */
static uint64_t set_count(struct fk_pool *p, uint64_t count, uint64_t *ret_slow)
{
	uint64_t persistent = p->nr - p->surplus, grow, min_count;

	*ret_slow = 0;
	/* Surplus pages become persistent first, then new pages are allocated while the node gives them. */
	while (p->surplus && count > persistent) {
		p->surplus--;
		persistent++;
	}
	if (count > persistent) {
		grow = count - persistent < p->available ? count - persistent : p->available;
		p->nr += grow;
		p->available -= grow;
		*ret_slow = count - persistent - grow < p->slow ? count - persistent - grow : p->slow;
		p->nr += *ret_slow;
		p->slow -= *ret_slow;
		return grow;
	}
	/* Free the free pages down to COUNT (never an in-use one); the in-use pages above it become surplus. */
	min_count = p->used > count ? p->used : count;
	while (p->nr - p->surplus > min_count && p->nr > p->used) {
		p->nr--;
		p->available++;
	}
	while (p->nr - p->surplus > count)
		p->surplus++;
	return 0;
}

/* A write of COUNT stopped at TIMEOUT_MS (a fatal signal: hugetlb stops between pages): true with *RET the
 * count it reaches by then, when it would take longer; false when it ends in time. */
static bool stopped_count(const struct fk_pool *p, uint64_t count, unsigned timeout_ms, uint64_t *ret)
{
	uint64_t need = count > p->nr ? count - p->nr : 0, fast, slow, fit;
	unsigned long long ms;

	fast = need < p->available ? need : p->available;
	slow = need - fast < p->slow ? need - fast : p->slow;
	if ((unsigned long long)fast * p->ms_per_page + (unsigned long long)slow * p->slow_ms_per_page <= timeout_ms)
		return false;
	fit = p->ms_per_page ? timeout_ms / p->ms_per_page : fast;
	if (fit < fast)
		fast = fit;
	ms = (unsigned long long)fast * p->ms_per_page;
	fit = p->slow_ms_per_page ? (timeout_ms - ms) / p->slow_ms_per_page : slow;
	if (fit < slow)
		slow = fit;
	*ret = p->nr + fast + slow;
	return true;
}

static void compact_node_locked(struct fake_kernel *k, unsigned node)
{
	k->compactions++;
	for (size_t i = 0; i < k->n_pools; i++)
		if (k->pools[i].node == node)
			k->pools[i].available += k->pools[i].compact_gain;
	show_buddyinfo(k);
}

void fk_compact_all_locked(struct fake_kernel *k)
{
	k->compactions++;
	for (size_t i = 0; i < k->n_pools; i++)
		k->pools[i].available += k->pools[i].compact_gain;
	show_buddyinfo(k);
}

int fk_node_write(struct fake_kernel *k, const char *relpath, const char *value, unsigned timeout_ms, bool stoppable)
{
	unsigned long long took;
	bool stopped;
	unsigned node;
	uint64_t size_kib, count, grown, slow;
	char attr[32], *end;
	struct fk_pool *p;
	int n = 0;

	if (sscanf(relpath, "devices/system/node/node%u/compact%n", &node, &n) == 1 && n > 0 && !relpath[n]) {
		pthread_mutex_lock(&k->lock);
		compact_node_locked(k, node);
		fk_logf(k, "compact node%u", node);
		pthread_mutex_unlock(&k->lock);
		return 0;
	}
	n = 0;
	if (sscanf(relpath, "devices/system/node/node%u/hugepages/hugepages-%" SCNu64 "kB/%31[a-z_]%n", &node,
		   &size_kib, attr, &n) != 3 ||
	    relpath[n] || !streq(attr, "nr_hugepages"))
		return 1;
	errno = 0;
	count = strtoull(value, &end, 10);
	if (errno || end == value || *end)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	p = find_pool(k, node, size_kib);
	if (!p) {
		pthread_mutex_unlock(&k->lock);
		return -ENOENT;
	}
	k->pool_writes++;
	if (count > p->nr - p->surplus && count - (p->nr - p->surplus) > k->pool_largest_grow)
		k->pool_largest_grow = count - (p->nr - p->surplus);
	stopped = stoppable && stopped_count(p, count, timeout_ms, &count);
	grown = set_count(p, count, &slow);
	show(k, p);
	fk_logf(k, "hugepages node%u %" PRIu64 "kB %" PRIu64 " -> %" PRIu64 "%s", node, size_kib, count, p->nr,
		stopped ? " (stopped at the deadline)" : "");
	/* Each new page takes its time; a write that needs longer than its deadline goes on in the kernel (the
	 * pages are there once it ends) while the writer is told -ETIMEDOUT, unless the writer stops it: then
	 * it ends at the deadline with the pages made by then. */
	took = grown * p->ms_per_page + slow * p->slow_ms_per_page;
	k->clock_ms += stopped || took > timeout_ms ? timeout_ms : took;
	pthread_mutex_unlock(&k->lock);
	return stopped || took > timeout_ms ? -ETIMEDOUT : 0;
}

void fk_hugepages_set_slow(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t slow, unsigned ms_per_page)
{
	struct fk_pool *p = pool_locked(k, node, size_kib);

	p->slow = slow;
	p->slow_ms_per_page = ms_per_page;
	show_buddyinfo(k);
	pthread_mutex_unlock(&k->lock);
}

void fk_hugepages_buddyinfo(struct fake_kernel *k)
{
	fx_write(k->f, "proc", "buddyinfo", "%s", "");
	pthread_mutex_lock(&k->lock);
	show_buddyinfo(k);
	pthread_mutex_unlock(&k->lock);
}

void fk_hugepages_set_cost(struct fake_kernel *k, unsigned node, uint64_t size_kib, unsigned ms_per_page)
{
	struct fk_pool *p = pool_locked(k, node, size_kib);

	p->ms_per_page = ms_per_page;
	pthread_mutex_unlock(&k->lock);
}

unsigned long long fk_now_ms(const struct kernel *kernel)
{
	struct fake_kernel *k = kernel->data;
	unsigned long long now;

	pthread_mutex_lock(&k->lock);
	now = k->clock_ms;
	pthread_mutex_unlock(&k->lock);
	return now;
}

unsigned fk_hugepages_writes(struct fake_kernel *k, uint64_t *ret_largest_grow)
{
	unsigned n;

	pthread_mutex_lock(&k->lock);
	n = k->pool_writes;
	*ret_largest_grow = k->pool_largest_grow;
	pthread_mutex_unlock(&k->lock);
	return n;
}

void fk_hugepages_add(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t nr)
{
	_cleanup_free_ char *compact = fk_sys_path(k, "devices/system/node/node%u/compact", node);
	_cleanup_free_ char *dir =
		fk_sys_path(k, "devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB", node, size_kib);
	struct fk_pool *grown;
	FILE *f;

	fx_mkdir_p(dir);
	f = fopen(compact, "w");
	CHECK(f);
	CHECK(fclose(f) == 0);
	pthread_mutex_lock(&k->lock);
	CHECK(!find_pool(k, node, size_kib));
	grown = realloc(k->pools, (k->n_pools + 1) * sizeof(*k->pools));
	CHECK(grown);
	k->pools = grown;
	k->pools[k->n_pools] = (struct fk_pool){ .node = node, .size_kib = size_kib, .nr = nr };
	show(k, &k->pools[k->n_pools++]);
	pthread_mutex_unlock(&k->lock);
}

void fk_hugepages_set_memory(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t available,
			     uint64_t compact_gain)
{
	struct fk_pool *p = pool_locked(k, node, size_kib);

	p->available = available;
	p->compact_gain = compact_gain;
	show_buddyinfo(k);
	pthread_mutex_unlock(&k->lock);
}

void fk_hugepages_set_used(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t used)
{
	struct fk_pool *p = pool_locked(k, node, size_kib);

	CHECK(used <= p->nr);
	p->used = used;
	free_surplus(p);
	show(k, p);
	pthread_mutex_unlock(&k->lock);
}

uint64_t fk_hugepages_nr(struct fake_kernel *k, unsigned node, uint64_t size_kib)
{
	uint64_t nr = pool_locked(k, node, size_kib)->nr;

	pthread_mutex_unlock(&k->lock);
	return nr;
}

uint64_t fk_hugepages_surplus(struct fake_kernel *k, unsigned node, uint64_t size_kib)
{
	uint64_t surplus = pool_locked(k, node, size_kib)->surplus;

	pthread_mutex_unlock(&k->lock);
	return surplus;
}

unsigned fk_hugepages_compactions(struct fake_kernel *k)
{
	unsigned n;

	pthread_mutex_lock(&k->lock);
	n = k->compactions;
	pthread_mutex_unlock(&k->lock);
	return n;
}
