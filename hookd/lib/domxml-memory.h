/* What a libvirt domain XML says about its memory, as hugepage sizing needs it (through libxml2): <memory>,
 * <memoryBacking><hugepages> with its <page> sizes, the guest NUMA cells of <cpu><numa>, and the host nodes
 * of <numatune>. Sizes are in KiB (libvirt's units read as libvirt reads them: "KiB"/"k" = 1024, "KB" =
 * 1000, ..., bytes rounded up). Pure: nothing here looks at the host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeset.h"

/* <memoryBacking><hugepages><page size= unit= nodeset=/>: the page size for the guest cells in NODESET, or
 * for every cell no other <page> names when it has none. */
struct domxml_page {
	uint64_t size_kib;
	bool has_cells;
	struct nodeset cells; /* guest NUMA cell ids */
};

/* <cpu><numa><cell id= memory= unit=/>. */
struct domxml_cell {
	unsigned id;
	uint64_t memory_kib;
};

/* <numatune><memnode cellid= nodeset=/>: the host nodes guest cell CELL's memory comes from. */
struct domxml_memnode {
	unsigned cell;
	struct nodeset host_nodes;
};

struct domxml_memory {
	uint64_t memory_kib;	   /* <memory>; 0 when absent */
	bool hugepages;		   /* <memoryBacking><hugepages> is there */
	struct domxml_page *pages; /* its <page> children, in document order (owned) */
	size_t n_pages;
	struct domxml_cell *cells; /* guest NUMA cells, in document order (owned) */
	size_t n_cells;
	bool has_host_nodes;		 /* <numatune><memory nodeset=> */
	struct nodeset host_nodes;	 /* its host nodes */
	struct domxml_memnode *memnodes; /* owned */
	size_t n_memnodes;
};

/* Read XML (LEN bytes, not necessarily NUL-terminated) into *RET (cleared first; free its arrays with
 * domxml_memory_clear, also after a failure). -EINVAL with *ret_error (one line, caller frees) when the XML does
 * not parse as a <domain> or one of these elements is malformed (a size that is not a number or overflows, an
 * unknown unit, a bad nodeset, two cells with one id, a memnode or page naming no cell); -ENOMEM. */
int domxml_memory(const char *xml, size_t len, struct domxml_memory *ret, char **ret_error);
void domxml_memory_clear(struct domxml_memory *m);

/* VALUE (decimal digits, blanks around allowed) in libvirt's UNIT (NULL or "": KiB), as KiB rounded up. 0,
 * -EINVAL (not a number, unknown unit), -ERANGE (overflows 64 bits). Also reads hookd.vm.ini's sizes. */
int domxml_scale_kib(const char *value, const char *unit, uint64_t *ret);
