/* Sets of NUMA node ids as libvirt and the kernel write them ("0-3,^2,5"): the nodesets of a domain XML's
 * <numatune> and <hugepages><page>, and the nodes a host offers. A fixed bitmap (the kernel's MAX_NUMNODES
 * is at most 1024), so a set is a plain value with no allocation. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define NODESET_MAX 1024u

struct nodeset {
	uint64_t bits[NODESET_MAX / 64];
};

/* Parse S: comma-separated ids and ranges "A-B" (A <= B), each optionally negated with a leading '^'
 * (removed from what the others added, as libvirt reads it); blanks around items are allowed. 0, or -EINVAL
 * for anything else, -ERANGE for an id >= NODESET_MAX. *ret is only written on success. An empty result
 * ("^0" alone) is -EINVAL: a nodeset names at least one node. */
int nodeset_parse(const char *s, struct nodeset *ret);

void nodeset_add(struct nodeset *s, unsigned id); /* ids >= NODESET_MAX are ignored */
bool nodeset_has(const struct nodeset *s, unsigned id);
unsigned nodeset_count(const struct nodeset *s);
/* The I-th member in ascending order (I < nodeset_count()); NODESET_MAX when there is none. */
unsigned nodeset_nth(const struct nodeset *s, unsigned i);
/* The set as the kernel writes it, "0-2,5" ("" for an empty set), into BUF of SIZE bytes; -ENOBUFS when it
 * does not fit. */
int nodeset_format(const struct nodeset *s, char *buf, unsigned size);
