/* Hugepage sizing: how many pages of which size a VM needs on which host NUMA node, from its domain XML
 * (domxml-memory.h) or from hookd.vm.ini's `hugepages = COUNT` / `hugepage-size = SIZE`, against the sizes
 * the host offers per node. Pure (the host's offer is an argument; hugepages_host_read() reads it), so
 * `hookctl check` and prepare size the same way.
 *
 * Where the pages go: a guest cell's memory to its <numatune><memnode> nodes, else to <numatune><memory>'s
 * nodes, else (no binding: the kernel may take the pages from any node) to every node offering the size;
 * memory spread over several nodes is split evenly over them, the first nodes taking the remainder. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "domxml-memory.h"

/* One size on one node that the host offers (sysfs has nodeN/hugepages/hugepages-SIZEkB). */
struct hugepages_offer {
	unsigned node;
	uint64_t size_kib;
};

struct hugepages_host {
	struct hugepages_offer *offers; /* sorted by node, then size (owned) */
	size_t n_offers;
	uint64_t default_size_kib; /* /proc/meminfo's Hugepagesize; else 2048 when offered, else the smallest */
};

/* Pages of SIZE_KIB to reserve on NODE. */
struct hugepages_need {
	unsigned node;
	uint64_t size_kib;
	uint64_t pages;
};

/* The host's offer under SYSFS_ROOT (devices/system/node/node* /hugepages/hugepages-*kB) and PROC_ROOT
 * (meminfo). An empty offer (no NUMA sysfs, no hugetlb) is not an error. 0 or -ENOMEM. Free with
 * hugepages_host_clear. */
int hugepages_host_read(const char *sysfs_root, const char *proc_root, struct hugepages_host *ret);
void hugepages_host_clear(struct hugepages_host *h);

/* What REQ asks for given the domain's memory DOM (NULL when there is no XML, e.g. `hookctl check` without
 * libvirt) and the host's offer: *ret (owned, sorted by node then size, one entry per pair, no zero counts)
 * and *ret_n. 0 (nothing when REQ is HUGEPAGES_OFF); -EINVAL with *ret_why (one line, caller frees) when it
 * cannot be sized (auto without <hugepages> in the XML or without <memory>, a size the host does not offer on a
 * node, a hugepage-size that contradicts the XML's page size); -ENOMEM. */
int hugepages_size(const struct hugepages_request *req, const struct domxml_memory *dom,
		   const struct hugepages_host *host, struct hugepages_need **ret, size_t *ret_n, char **ret_why);

/* SIZE_KIB as a person reads it: "2 MiB", "1 GiB", "64 KiB", into BUF. */
const char *hugepages_size_label(uint64_t size_kib, char buf[static 32]);

/* The host change target of a need, "node0/hugepages-2048kB", and back. hugepages_target_parse: 0 or
 * -EINVAL. */
int hugepages_target(unsigned node, uint64_t size_kib, char **ret);
int hugepages_target_parse(const char *target, unsigned *ret_node, uint64_t *ret_size_kib);
/* The sysfs path of ATTR of a pool, relative to the sysfs root:
 * "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", into BUF. */
const char *hugepages_pool_relpath(unsigned node, uint64_t size_kib, const char *attr, char buf[static 128]);
