/* The host change HOST_HUGEPAGES (host-change.h): pages of one size reserved on one NUMA node for one VM,
 * with a per-VM ledger. Target "node0/hugepages-2048kB" (the pool under devices/system/node/), wanted: the
 * pages the VM needs, before: the pool's nr_hugepages found, applied: the pages this VM added.
 *
 * Reservations are RELATIVE: the pool grows by what the VM needs on top of what is there (the host's own
 * boot-time pages, other VMs' reservations), and release shrinks it by exactly the pages the VM added, so
 * the host's own pages are never freed and two VMs never free each other's. Each VM keeps its own ledger (the
 * kind is not shared). Writes to the pools are serialized within hookd, so a read-modify-write of
 * nr_hugepages never interleaves with another VM's.
 *
 * The read side (host-hugepages.c: reading a pool, checking a target) is what hookctl links; the writes
 * (host-hugepages-write.c) are the engine's write side. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "host-change.h"
#include "kernel.h"

/* One pool as sysfs shows it. */
struct hugepages_pool {
	uint64_t nr;	  /* nr_hugepages: every page of the pool, surplus included */
	uint64_t free;	  /* free_hugepages */
	uint64_t surplus; /* surplus_hugepages: in-use pages the pool gives back as they are let go */
};

/* The host changes VM's hugepages ask for (none when it sets no `hugepages`), appended to *CHANGES (*N
 * entries, grown with realloc): one HOST_HUGEPAGES per (node, size), target "node0/hugepages-2048kB", wanted
 * the page count, in node then size order. Sized by hugepages_size() from the domain XML (XML, LEN; NULL
 * when there is none) against the host's offer under SYSFS_ROOT and PROC_ROOT. 0; -EINVAL with *ret_why
 * (one line, caller frees) when the XML is malformed or the pages cannot be sized; -ENOMEM. */
int hugepages_plan_changes(const struct vm_config *vm, const char *xml, size_t len, const char *sysfs_root,
			   const char *proc_root, struct plan_host_change **changes, size_t *n, char **ret_why);

/* The pool of TARGET under SYSFS_ROOT. 0; -EINVAL for a malformed target; -ENOENT when the host has no
 * such pool (no such node, or the size is not offered); -EBADMSG when a count does not read as a number;
 * -errno of the read. */
int hugepages_pool_read(const char *sysfs_root, const char *target, struct hugepages_pool *ret);

/* Whether TARGET exists and WANTED is a page count that the node could ever hold (the check phase): 0, or
 * -EINVAL / -ENOENT / -E2BIG with *ret_why (one line, caller frees). -E2BIG: WANTED pages are more than the
 * node's MemTotal (devices/system/node/nodeN/meminfo; no refusal when the node does not say). MemTotal, not
 * MemFree plus what reclaim could free: free memory changes from moment to moment and reclaim and compaction
 * find more than it shows, so the check refuses only what no moment can hold; the reservation finds out the
 * rest, bounded. */
int hugepages_check(const char *sysfs_root, const char *target, const char *wanted, char **ret_why);

/* How a reservation or a give-back reaches the kernel. */
struct hugepages_io {
	const struct kernel *kernel; /* nr_hugepages and nodeN/compact are written through it */
	const char *sysfs_root;	     /* the pools are read under it */
	const char *proc_root;	     /* buddyinfo: the pages a node has ready; NULL (or no buddyinfo): unknown */
	/* Compact all memory (/proc/sys/vm/compact_memory, the kernel's proc_write), for a node without its
	 * own compact attribute; NULL: none. 0 or -errno. */
	int (*compact_all)(const struct kernel *k, unsigned timeout_ms);
	unsigned write_timeout_ms;	/* one write: nr_hugepages, a compaction */
	unsigned long long deadline_ms; /* the whole reservation, on now_ms's clock: no write that would end
					 * after it is started */
	unsigned give_back_wait_ms;	/* release: how long to wait for pages the VM still uses (bounded) */
	/* The clock of deadline_ms and of the rate chunks are sized by, in ms; NULL: CLOCK_MONOTONIC
	 * (monotonic_ms). The fake kernel's own clock in the unit tests. */
	unsigned long long (*now_ms)(const struct kernel *k);
};

/* /proc/sys/vm/compact_memory through K's proc_write: hugepages_io.compact_all of the engine. */
int hugepages_compact_all(const struct kernel *k, unsigned timeout_ms);

/* At most this many compactions per reservation: after a few, another one rarely frees a huge page. */
#define HUGEPAGES_COMPACTIONS_MAX 4

/* Add WANTED pages to TARGET's pool, relative to what is there, IN CHUNKS: no single nr_hugepages write is
 * asked for more work than fits well inside one write's deadline (the kernel allocates a write's pages one
 * by one, reclaiming and compacting as it goes). The rate can still fall inside a chunk as memory fills: a
 * chunk's write (and a node's compaction) not done at write_timeout_ms is STOPPED there
 * (kernel_write_stoppable), never left allocating in the kernel, and counts as a short chunk with the pages
 * it made. Pages the node
 * has READY (free blocks of the page's size or larger in proc_root's buddyinfo) come fast, the others only
 * through compaction inside the write, orders of magnitude slower: a chunk asks for at most the ready pages,
 * or, when none are, for pages at the slow rate. Each kind of chunk starts small (32 MiB of ready pages, one
 * slow page), is sized from the rate the last one of its kind measured to take at most a quarter of
 * write_timeout_ms, and at most doubles. No chunk is started
 * that would end after deadline_ms. A chunk that falls short compacts the node (HUGEPAGES_COMPACTIONS_MAX
 * times at most) and goes on; a chunk that obtains nothing right after a compaction ends the reservation.
 * 0 with *ret_added = WANTED; RET_OUTCOME (optional) says how it went, for benchmarks; when short, exactly
 * the pages added are given back (in chunks too) and -ENOMEM is returned with *ret_why: "only 300 of 512
 * pages of 2 MiB could be reserved on node 0 (memory is too fragmented or too full, after 4 compactions);
 * none were kept", or "(memory gave them too slowly for the time prepare has, ...)" when the deadline ended
 * it. -errno of a write (with *ret_why), after giving back what was added. */
struct hugepages_outcome {
	uint64_t obtained;    /* the most pages the pool held for this reservation (before any give-back) */
	unsigned compactions; /* compactions asked for */
	unsigned writes;      /* nr_hugepages writes that grew the pool (the chunks) */
};
int hugepages_reserve(const struct hugepages_io *io, const char *target, uint64_t wanted, uint64_t *ret_added,
		      struct hugepages_outcome *ret_outcome, char **ret_why);

/* Give PAGES back to the kernel from TARGET's pool (nr_hugepages = what is there - PAGES, never below 0), in
 * chunks as a reservation grows it (freeing is fast, but no write is left unbounded), each write stoppable
 * like a reservation's so that the pool read after it is final.
 * Pages still in use (the VM's QEMU not gone yet) are waited for, bounded by give_back_wait_ms; past it the
 * kernel is told anyway and frees them as they are let go (they count as surplus until then), and *ret_why
 * says so with 0 returned. -errno of the write with *ret_why. */
int hugepages_give_back(const struct hugepages_io *io, const char *target, uint64_t pages, char **ret_why);

/* Recovery of a reservation the journal holds as APPLYING (killed between the journal and its ledger): the
 * pages the VM may have added, min(WANTED, CURRENT - BEFORE) and never below 0. Pages another VM added since
 * cannot be told apart, but pool writes are serialized and a crash kills every writer, so the pool changed
 * only by this VM's write. */
uint64_t hugepages_recovered_ledger(uint64_t before, uint64_t current, uint64_t wanted);

/* WHY without its "hugepages: " prefix, for the engine's messages, which name the kind and the target
 * already ("VM win10: hugepages node0/hugepages-2048kB: only 300 of ..."). */
void hugepages_why_plain(char **why);

/* A page count as the journal and the plan hold it ("512"): 0 or -EINVAL. */
int hugepages_count_parse(const char *s, uint64_t *ret);
