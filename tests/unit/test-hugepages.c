/* The hugepage reservation and its ledger (host-hugepages.h) on a fixture tree through the fake kernel:
 * relative to the host's own pages, bounded compaction, a short reservation given back whole, two VMs with
 * ledgers of their own, pages still in use at release, the ledger recovered after a crash. Never /sys. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fake-kernel.h"
#include "host-changes.h"
#include "host-hugepages.h"
#include "sysfs-fixture.h"
#include "test.h"
#include "util.h"

#define NODE0_2M "node0/hugepages-2048kB"

struct bed {
	struct fixture f;
	struct fake_kernel *k;
	struct hugepages_io io;
};

/* A host with HOST_PAGES boot-time 2 MiB pages on node 0 (and node 1's 1 GiB pool, empty), AVAILABLE more
 * that the node can give, GAIN per compaction. */
static void bed_init(struct bed *b, uint64_t host_pages, uint64_t available, uint64_t gain)
{
	fx_init(&b->f);
	b->k = fk_new(&b->f);
	fk_hugepages_add(b->k, 0, 2048, host_pages);
	fk_hugepages_set_memory(b->k, 0, 2048, available, gain);
	fk_hugepages_add(b->k, 1, 1048576, 0);
	b->io = (struct hugepages_io){
		.kernel = fk_kernel(b->k),
		.sysfs_root = b->f.sys,
		.proc_root = b->f.proc,
		.write_timeout_ms = 1000,
		.deadline_ms = 3600 * 1000, /* in the fake kernel's time, which starts at 0 */
		.give_back_wait_ms = 0,
		.now_ms = fk_now_ms,
	};
}

static void bed_free(struct bed *b)
{
	fk_free(b->k);
	fx_clear(&b->f);
}

static void test_relative_and_exact_give_back(void)
{
	_cleanup_free_ char *why = NULL, *again = NULL;
	struct hugepages_pool pool;
	struct bed b;
	uint64_t added;

	bed_init(&b, 64, 10000, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &why), 0);
	CHECK(!why);
	CHECK_INT(added, 512);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64 + 512);
	CHECK_INT(fk_hugepages_compactions(b.k), 0);
	CHECK_INT(hugepages_pool_read(b.f.sys, NODE0_2M, &pool), 0);
	CHECK_INT(pool.nr, 576);
	CHECK_INT(pool.free, 576);
	/* Release gives back the VM's 512; the host's 64 boot-time pages stay. */
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, 512, &again), 0);
	CHECK(!again);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

static void test_compaction_bounded(void)
{
	_cleanup_free_ char *why = NULL;
	struct bed b;
	uint64_t added;

	/* 100 pages at once, 250 more per compaction: two compactions reach 512. */
	bed_init(&b, 0, 100, 250);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &why), 0);
	CHECK_INT(added, 512);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 512);
	CHECK_INT(fk_hugepages_compactions(b.k), 2);
	bed_free(&b);
}

static void test_short_given_back_whole(void)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome;
	struct bed b;
	uint64_t added = 99;

	/* 100 at once, 50 per compaction: after the bound (4) only 300; the pool goes back to the host's 64. */
	bed_init(&b, 64, 100, 50);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, &outcome, &why), -ENOMEM);
	CHECK_INT(outcome.obtained, 300);
	CHECK_INT(outcome.compactions, HUGEPAGES_COMPACTIONS_MAX);
	CHECK_STR(why, "hugepages: only 300 of 512 pages of 2 MiB could be reserved on node 0 (memory is too "
		       "fragmented or too full, after 4 compactions); none were kept");
	CHECK_INT(added, 0);
	CHECK_INT(fk_hugepages_compactions(b.k), HUGEPAGES_COMPACTIONS_MAX);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

static void test_deadline_passed(void)
{
	_cleanup_free_ char *why = NULL;
	struct bed b;
	uint64_t added;

	/* Past the operation's deadline no compaction is started: one try, refused, given back. */
	bed_init(&b, 0, 10, 1000);
	b.io.deadline_ms = 0;
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &why), -ENOMEM);
	CHECK(strstr(why, "only 10 of 512 pages"));
	CHECK_INT(fk_hugepages_compactions(b.k), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 0);
	bed_free(&b);
}

/* Memory that gives pages slowly (10 ms each in the fake kernel's time, a write's deadline 1000 ms): no
 * single write may be asked for more than fits inside its deadline. 512 pages in one write would take 5.1 s
 * and run past it; in chunks each write stays well inside (a quarter of the deadline) and all 512 come. */
static void test_slow_memory_chunked(void)
{
	_cleanup_free_ char *why = NULL;
	uint64_t added = 0, largest = 0;
	struct bed b;

	bed_init(&b, 64, 10000, 0);
	fk_hugepages_set_cost(b.k, 0, 2048, 10);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &why), 0);
	CHECK(!why);
	CHECK_INT(added, 512);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64 + 512);
	CHECK(fk_hugepages_writes(b.k, &largest) > 1);
	CHECK(largest * 10 <= b.io.write_timeout_ms / 2);
	bed_free(&b);
}

/* Fragmented memory (the benchmark's, on the guest's kernel): 100 pages ready as free 2 MiB blocks, 400 more
 * only through the compaction the kernel does inside the write, 100 ms each. Sizing chunks by the rate of
 * the ready pages alone made one chunk run into the slow ones and past its deadline; chunks never ask for
 * more than /proc/buddyinfo shows ready, and past them grow from one page at the slow rate. */
static void test_fragmented_slow_after_ready(void)
{
	_cleanup_free_ char *why = NULL;
	uint64_t added = 0, largest = 0;
	struct bed b;

	bed_init(&b, 64, 100, 0);
	fk_hugepages_buddyinfo(b.k);
	fk_hugepages_set_slow(b.k, 0, 2048, 400, 100);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 450, &added, NULL, &why), 0);
	CHECK(!why);
	CHECK_INT(added, 450);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64 + 450);
	fk_hugepages_writes(b.k, &largest);
	CHECK(largest <= 100);
	bed_free(&b);
}

/* Memory that gives pages slower as it fills (CI's guest: chunks of 59 pages in 3.4 s, then 21 in 5.6 s,
 * then one sized for 2.5 s ran past the write's 10 s deadline and the reservation failed with "Connection
 * timed out", leaving the write allocating in the kernel). Here 112 pages come at 10 ms, the rest at 600 ms:
 * the chunk that crosses into them is stopped at its deadline with the pages it made, and the reservation
 * goes on at the new rate. */
static void test_chunk_stopped_at_its_deadline(void)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome;
	uint64_t added = 0;
	struct bed b;

	bed_init(&b, 64, 112, 0);
	fk_hugepages_set_cost(b.k, 0, 2048, 10);
	fk_hugepages_set_slow(b.k, 0, 2048, 400, 600);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 114, &added, &outcome, &why), 0);
	CHECK(!why);
	CHECK_INT(added, 114);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64 + 114);
	CHECK(strstr(fk_log(b.k), "(stopped at the deadline)"));
	bed_free(&b);
}

/* The same memory asked for more than its slow pages can give in time: refused in one line saying how many
 * pages came (never "Connection timed out"), every page given back, no write left running. */
static void test_rate_falls_refused(void)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome;
	uint64_t added = 99;
	struct bed b;

	bed_init(&b, 64, 112, 0);
	fk_hugepages_set_cost(b.k, 0, 2048, 10);
	fk_hugepages_set_slow(b.k, 0, 2048, 400, 600);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 300, &added, &outcome, &why), -ENOMEM);
	CHECK_INT(added, 0);
	CHECK(outcome.obtained > 112 && outcome.obtained < 300);
	CHECK(startswith(why, "hugepages: only "));
	CHECK(strstr(why, " of 300 pages of 2 MiB could be reserved on node 0 ("));
	CHECK(strstr(why, "); none were kept"));
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

/* Fewer pages ready than wanted (buddyinfo): the node is compacted before the first write, not after a
 * write fell short. */
static void test_compacts_first_when_not_ready(void)
{
	_cleanup_free_ char *why = NULL, *again = NULL;
	struct hugepages_outcome outcome;
	const char *log;
	uint64_t added = 0;
	struct bed b;

	bed_init(&b, 0, 100, 500);
	fk_hugepages_buddyinfo(b.k);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 400, &added, &outcome, &why), 0);
	CHECK_INT(added, 400);
	CHECK_INT(outcome.compactions, 1);
	log = fk_log(b.k);
	CHECK(strstr(log, "compact node0") && strstr(log, "compact node0") < strstr(log, "hugepages node0"));
	/* Enough ready: no compaction. */
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, 400, &again), 0);
	free(why);
	why = NULL;
	fk_log_clear(b.k);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 300, &added, &outcome, &why), 0);
	CHECK_INT(outcome.compactions, 0);
	bed_free(&b);
}

/* The same memory with 3 s for the whole reservation: it stops before the deadline instead of starting a
 * write that would end past it, gives back exactly what it added, and says how far it got. */
static void test_slow_memory_total_deadline(void)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome;
	uint64_t added = 99;
	struct bed b;

	bed_init(&b, 64, 10000, 0);
	fk_hugepages_set_cost(b.k, 0, 2048, 10);
	b.io.deadline_ms = 3000;
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, &outcome, &why), -ENOMEM);
	CHECK_INT(added, 0);
	CHECK(outcome.obtained > 0 && outcome.obtained <= 300);
	CHECK(fk_now_ms(fk_kernel(b.k)) <= 3000);
	CHECK(startswith(why, "hugepages: only "));
	CHECK(strstr(why, " of 512 pages of 2 MiB could be reserved on node 0 (memory gave them too slowly for the "
			  "time prepare has, after 0 compactions); none were kept"));
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

/* The node has 100 pages to give and compaction frees none: the reservation stops at the first chunk that
 * obtains nothing after a compaction (not after every compaction the bound allows). */
static void test_stops_when_compaction_obtains_nothing(void)
{
	_cleanup_free_ char *why = NULL;
	struct hugepages_outcome outcome;
	uint64_t added = 99;
	struct bed b;

	bed_init(&b, 64, 100, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, &outcome, &why), -ENOMEM);
	CHECK_INT(outcome.obtained, 100);
	CHECK_INT(outcome.compactions, 1);
	CHECK_STR(why, "hugepages: only 100 of 512 pages of 2 MiB could be reserved on node 0 (memory is too "
		       "fragmented or too full, after 1 compaction); none were kept");
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

/* Giving back is bounded the same way: 4096 pages go back in several writes, the host's 64 stay. */
static void test_give_back_chunked(void)
{
	_cleanup_free_ char *w1 = NULL, *w2 = NULL;
	uint64_t added, largest;
	unsigned writes;
	struct bed b;

	bed_init(&b, 64, 10000, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 4096, &added, NULL, &w1), 0);
	writes = fk_hugepages_writes(b.k, &largest);
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, 4096, &w2), 0);
	CHECK(!w2);
	CHECK(fk_hugepages_writes(b.k, &largest) > writes + 1);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

/* The check phase refuses, before anything is written, a request no moment of the node could hold: more
 * than its MemTotal. */
static void test_check_more_than_the_node(void)
{
	_cleanup_free_ char *w1 = NULL, *w2 = NULL;
	struct bed b;

	bed_init(&b, 0, 10000, 0);
	fx_write(
		&b.f, "sys", "devices/system/node/node0/meminfo",
		"Node 0 MemTotal:        2031616 kB\nNode 0 MemFree:         1500000 kB\nNode 0 MemUsed:  531616 kB\n");
	CHECK_INT(hugepages_check(b.f.sys, NODE0_2M, "900", &w1), 0);
	CHECK_INT(hugepages_check(b.f.sys, NODE0_2M, "100000", &w2), -E2BIG);
	CHECK_STR(w2, "hugepages: 100000 pages of 2 MiB (195 GiB) are more than node 0 has in all (1984 MiB); "
		      "no reservation can hold them");
	CHECK_INT(fk_hugepages_writes(b.k, &(uint64_t){ 0 }), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 0);
	bed_free(&b);
}

static void test_two_vms(void)
{
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL;
	struct bed b;
	uint64_t a, c;

	bed_init(&b, 64, 10000, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 100, &a, NULL, &w1), 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 200, &c, NULL, &w2), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 364);
	/* The first VM stops: its 100 go, the second's 200 and the host's 64 stay. */
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, a, &w3), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 264);
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, c, &w4), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	bed_free(&b);
}

static void test_give_back_in_use(void)
{
	_cleanup_free_ char *w1 = NULL, *why = NULL;
	struct bed b;
	uint64_t added;

	bed_init(&b, 64, 10000, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &w1), 0);
	/* QEMU still holds its 512 pages when release comes (the wait is 0 here): the pool is told to shrink,
	 * the pages count as surplus, and they go when QEMU lets go. */
	fk_hugepages_set_used(b.k, 0, 2048, 512);
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, 512, &why), 0);
	CHECK_STR(why, "hugepages: 448 pages of 2 MiB on node 0 are still in use; the kernel frees them when they are "
		       "let go");
	CHECK_INT(fk_hugepages_surplus(b.k, 0, 2048), 448);
	fk_hugepages_set_used(b.k, 0, 2048, 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	CHECK_INT(fk_hugepages_surplus(b.k, 0, 2048), 0);
	bed_free(&b);
}

static void test_shrunk_by_someone_else(void)
{
	_cleanup_free_ char *w1 = NULL, *why = NULL;
	struct bed b;
	uint64_t added;

	bed_init(&b, 0, 10000, 0);
	CHECK_INT(hugepages_reserve(&b.io, NODE0_2M, 512, &added, NULL, &w1), 0);
	/* Someone writes nr_hugepages = 100 by hand while the VM runs: release gives back what is there. */
	CHECK_INT(kernel_write(fk_kernel(b.k), "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
			       "100", 1000),
		  0);
	CHECK_INT(hugepages_give_back(&b.io, NODE0_2M, 512, &why), 0);
	CHECK_STR(why, "hugepages: node 0's pool of 2 MiB pages held 412 fewer pages than this VM added (shrunk by "
		       "someone else); gave back 100");
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 0);
	bed_free(&b);
}

static void test_check_and_read(void)
{
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL;
	struct hugepages_pool pool;
	struct bed b;

	bed_init(&b, 8, 0, 0);
	CHECK_INT(hugepages_check(b.f.sys, NODE0_2M, "512", &w1), 0);
	CHECK(!w1);
	CHECK_INT(hugepages_check(b.f.sys, "node2/hugepages-2048kB", "512", &w2), -ENOENT);
	CHECK_STR(w2, "hugepages: node 2 has no pool of 2 MiB pages (No such file or directory)");
	CHECK_INT(hugepages_check(b.f.sys, "node0/../../x/hugepages-2048kB", "1", &w3), -EINVAL);
	CHECK_INT(hugepages_pool_read(b.f.sys, "node0/../node1/hugepages-1048576kB", &pool), -EINVAL);
	CHECK_INT(hugepages_pool_read(b.f.sys, "node1/hugepages-1048576kB", &pool), 0);
	CHECK_INT(pool.nr, 0);
	bed_free(&b);
}

static void test_recovered_ledger(void)
{
	/* Killed before the write: nothing added. After it: what the pool grew by, never more than wanted. */
	CHECK_INT(hugepages_recovered_ledger(64, 64, 512), 0);
	CHECK_INT(hugepages_recovered_ledger(64, 576, 512), 512);
	CHECK_INT(hugepages_recovered_ledger(64, 364, 512), 300);
	CHECK_INT(hugepages_recovered_ledger(64, 2000, 512), 512);
	CHECK_INT(hugepages_recovered_ledger(64, 10, 512), 0);
}

/* The kind's halves as the engine calls them (host-changes.h): read gives the persistent pages, apply keeps
 * the ledger in `applied`, restore gives it back; a change the journal holds as APPLYING (no ledger: killed
 * before it was written) is recovered from `before`. */
static void test_reader_writer(void)
{
	const struct host_change_reader *reader = host_change_reader_for(HOST_HUGEPAGES);
	const struct host_change_writer *writer = host_change_writer_for(HOST_HUGEPAGES);
	struct plan_host_change c = { .kind = HOST_HUGEPAGES, .step = HOST_CHANGE_APPLYING };
	_cleanup_free_ char *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL;
	struct host_context ctx;
	struct bed b;

	CHECK(reader && writer && !reader->shared && !reader->combine);
	bed_init(&b, 64, 100, 50);
	fx_write(&b.f, "proc", "sys/vm/compact_memory", "0");
	ctx = (struct host_context){ .vm = "win10",
				     .kernel = fk_kernel(b.k),
				     .sysfs_root = b.f.sys,
				     .proc_root = b.f.proc,
				     .timeout_ms = 60000 };
	c.target = strdup(NODE0_2M);
	c.wanted = strdup("200");
	CHECK(c.target && c.wanted);
	CHECK_INT(reader->check(&ctx, &c, &w1), 0);
	CHECK_INT(reader->read(&ctx, &c, &c.before), 0);
	CHECK_STR(c.before, "64");
	CHECK_INT(writer->apply(&ctx, &c, c.wanted, &w2), 0);
	CHECK_STR(c.applied, "200");
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 264);
	CHECK_INT(writer->restore(&ctx, &c, c.before, &w3), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);

	/* Killed after the write, before the ledger reached the journal: recovery gives back the 200. */
	free(c.applied);
	c.applied = NULL;
	CHECK_INT(writer->apply(&ctx, &c, c.wanted, &w4), 0);
	free(c.applied);
	c.applied = NULL;
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 264);
	CHECK_INT(writer->restore(&ctx, &c, c.before, &w4), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	/* Killed before the write: nothing to give back, the host's 64 stay. */
	CHECK_INT(writer->restore(&ctx, &c, c.before, &w4), 0);
	CHECK_INT(fk_hugepages_nr(b.k, 0, 2048), 64);
	plan_host_change_clear(&c);
	bed_free(&b);
}

/* Without a node compact attribute, compaction goes through /proc/sys/vm/compact_memory (proc_write). */
static void test_compact_through_proc(void)
{
	const struct host_change_writer *writer = host_change_writer_for(HOST_HUGEPAGES);
	struct plan_host_change c = { .kind = HOST_HUGEPAGES, .step = HOST_CHANGE_APPLYING };
	_cleanup_free_ char *why = NULL, *compact = NULL;
	struct host_context ctx;
	struct bed b;

	bed_init(&b, 0, 100, 100);
	CHECK(asprintf(&compact, "%s/devices/system/node/node0/compact", b.f.sys) >= 0);
	CHECK(unlink(compact) == 0);
	fx_write(&b.f, "proc", "sys/vm/compact_memory", "0");
	ctx = (struct host_context){ .vm = "win10",
				     .kernel = fk_kernel(b.k),
				     .sysfs_root = b.f.sys,
				     .proc_root = b.f.proc,
				     .timeout_ms = 60000 };
	c.target = strdup(NODE0_2M);
	c.wanted = strdup("300");
	c.before = strdup("0");
	CHECK_INT(writer->apply(&ctx, &c, c.wanted, &why), 0);
	CHECK_STR(c.applied, "300");
	CHECK_INT(fk_hugepages_compactions(b.k), 2);
	CHECK(strstr(fk_log(b.k), "proc sys/vm/compact_memory 1"));
	plan_host_change_clear(&c);
	bed_free(&b);
}

int main(void)
{
	RUN(test_relative_and_exact_give_back);
	RUN(test_compaction_bounded);
	RUN(test_short_given_back_whole);
	RUN(test_deadline_passed);
	RUN(test_slow_memory_chunked);
	RUN(test_fragmented_slow_after_ready);
	RUN(test_chunk_stopped_at_its_deadline);
	RUN(test_rate_falls_refused);
	RUN(test_compacts_first_when_not_ready);
	RUN(test_slow_memory_total_deadline);
	RUN(test_stops_when_compaction_obtains_nothing);
	RUN(test_give_back_chunked);
	RUN(test_check_more_than_the_node);
	RUN(test_two_vms);
	RUN(test_give_back_in_use);
	RUN(test_shrunk_by_someone_else);
	RUN(test_check_and_read);
	RUN(test_recovered_ledger);
	RUN(test_reader_writer);
	RUN(test_compact_through_proc);
	return 0;
}
