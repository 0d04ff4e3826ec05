#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "host-hugepages-size.h"
#include "strv.h"
#include "util.h"

const char *hugepages_size_label(uint64_t size_kib, char buf[static 32])
{
	if (size_kib && size_kib % (1024 * 1024) == 0)
		snprintf(buf, 32, "%" PRIu64 " GiB", size_kib / (1024 * 1024));
	else if (size_kib && size_kib % 1024 == 0)
		snprintf(buf, 32, "%" PRIu64 " MiB", size_kib / 1024);
	else
		snprintf(buf, 32, "%" PRIu64 " KiB", size_kib);
	return buf;
}

int hugepages_target(unsigned node, uint64_t size_kib, char **ret)
{
	return asprintf(ret, "node%u/hugepages-%" PRIu64 "kB", node, size_kib) < 0 ? -ENOMEM : 0;
}

const char *hugepages_pool_relpath(unsigned node, uint64_t size_kib, const char *attr, char buf[static 128])
{
	snprintf(buf, 128, "devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB/%s", node, size_kib, attr);
	return buf;
}

/* Decimal digits at *P (no sign, no leading zero but for "0"), advancing it. */
static int parse_decimal(const char **p, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)**p) || ((*p)[0] == '0' && isdigit((unsigned char)(*p)[1])))
		return -EINVAL;
	for (; isdigit((unsigned char)**p); (*p)++) {
		if (v > (max - (uint64_t)(**p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(**p - '0');
	}
	*ret = v;
	return 0;
}

int hugepages_target_parse(const char *target, unsigned *ret_node, uint64_t *ret_size_kib)
{
	const char *p = target;
	uint64_t node, size;

	if (!target || !startswith(p, "node"))
		return -EINVAL;
	p += 4;
	if (parse_decimal(&p, NODESET_MAX - 1, &node) < 0 || !startswith(p, "/hugepages-"))
		return -EINVAL;
	p += strlen("/hugepages-");
	if (parse_decimal(&p, UINT64_MAX / 1024, &size) < 0 || size == 0 || !streq(p, "kB"))
		return -EINVAL;
	*ret_node = (unsigned)node;
	*ret_size_kib = size;
	return 0;
}

void hugepages_host_clear(struct hugepages_host *h)
{
	if (!h)
		return;
	free(h->offers);
	*h = (struct hugepages_host){ 0 };
}

static bool is_node_dir(const char *name, void *userdata)
{
	const char *p = name + 4;
	uint64_t v;

	(void)userdata;
	return startswith(name, "node") && parse_decimal(&p, NODESET_MAX - 1, &v) == 0 && *p == '\0';
}

static int compare_offers(const void *a, const void *b)
{
	const struct hugepages_offer *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->size_kib < y->size_kib ? -1 : x->size_kib > y->size_kib;
}

/* "Hugepagesize:    2048 kB" of /proc/meminfo; 0 when it cannot be read. */
static uint64_t meminfo_default_size(const char *proc_root)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	const char *line;
	uint64_t v;

	if (asprintf(&path, "%s/meminfo", proc_root) < 0)
		return 0;
	if (read_text_file(path, 64 * 1024, &text) < 0)
		return 0;
	line = strstr(text, "\nHugepagesize:");
	if (!line)
		return 0;
	line += strlen("\nHugepagesize:");
	while (*line == ' ' || *line == '\t')
		line++;
	if (parse_decimal(&line, UINT64_MAX / 1024, &v) < 0 || !startswith(line, " kB"))
		return 0;
	return v;
}

int hugepages_host_read(const char *sysfs_root, const char *proc_root, struct hugepages_host *ret)
{
	_cleanup_free_ char *nodes_dir = NULL;
	_cleanup_strv_free_ char **nodes = NULL;
	struct hugepages_host h = { 0 };
	bool has_2m = false;
	int r;

	*ret = (struct hugepages_host){ 0 };
	if (asprintf(&nodes_dir, "%s/devices/system/node", sysfs_root) < 0)
		return -ENOMEM;
	r = strv_from_dir(nodes_dir, NULL, is_node_dir, NULL, &nodes);
	if (r == -ENOMEM)
		return r;
	for (char **n = nodes; n && *n; n++) {
		_cleanup_free_ char *dir = NULL;
		_cleanup_strv_free_ char **sizes = NULL;
		unsigned node = (unsigned)strtoul(*n + 4, NULL, 10);

		if (asprintf(&dir, "%s/%s/hugepages", nodes_dir, *n) < 0)
			goto oom;
		r = strv_from_dir(dir, "kB", NULL, NULL, &sizes);
		if (r == -ENOMEM)
			goto oom;
		for (char **s = sizes; s && *s; s++) {
			const char *p = *s + strlen("hugepages-");
			struct hugepages_offer *grown;
			uint64_t kib;

			if (!startswith(*s, "hugepages-") || parse_decimal(&p, UINT64_MAX / 1024, &kib) < 0 || *p ||
			    kib == 0)
				continue;
			grown = realloc(h.offers, (h.n_offers + 1) * sizeof(*h.offers));
			if (!grown)
				goto oom;
			h.offers = grown;
			h.offers[h.n_offers++] = (struct hugepages_offer){ .node = node, .size_kib = kib };
			has_2m = has_2m || kib == 2048;
		}
	}
	if (h.n_offers)
		qsort(h.offers, h.n_offers, sizeof(*h.offers), compare_offers);
	h.default_size_kib = meminfo_default_size(proc_root);
	if (!h.default_size_kib && h.n_offers) {
		h.default_size_kib = h.offers[0].size_kib;
		for (size_t i = 0; i < h.n_offers; i++)
			if (h.offers[i].size_kib < h.default_size_kib)
				h.default_size_kib = h.offers[i].size_kib;
		if (has_2m)
			h.default_size_kib = 2048;
	}
	*ret = h;
	return 0;
oom:
	hugepages_host_clear(&h);
	return -ENOMEM;
}

static bool offered(const struct hugepages_host *host, unsigned node, uint64_t size_kib)
{
	for (size_t i = 0; i < host->n_offers; i++)
		if (host->offers[i].node == node && host->offers[i].size_kib == size_kib)
			return true;
	return false;
}

/* The sizes the host offers on any node, "2 MiB, 1 GiB" (or "none"), for a refusal. */
static void offered_sizes(const struct hugepages_host *host, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < host->n_offers; i++) {
		char label[32];
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen = seen || host->offers[j].size_kib == host->offers[i].size_kib;
		if (seen)
			continue;
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
			 hugepages_size_label(host->offers[i].size_kib, label));
		len = strlen(buf);
	}
	if (!len)
		snprintf(buf, size, "none");
}

struct sizing {
	const struct hugepages_host *host;
	struct hugepages_need *needs;
	size_t n_needs;
	char **why;
};

static int why(struct sizing *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(struct sizing *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(s->why, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*s->why = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

static int add_need(struct sizing *s, unsigned node, uint64_t size_kib, uint64_t pages)
{
	struct hugepages_need *grown;

	if (pages == 0)
		return 0;
	for (size_t i = 0; i < s->n_needs; i++)
		if (s->needs[i].node == node && s->needs[i].size_kib == size_kib) {
			if (s->needs[i].pages > UINT64_MAX - pages)
				return why(s, "the hugepages asked for overflow a 64-bit count");
			s->needs[i].pages += pages;
			return 0;
		}
	grown = realloc(s->needs, (s->n_needs + 1) * sizeof(*s->needs));
	if (!grown)
		return -ENOMEM;
	s->needs = grown;
	s->needs[s->n_needs++] = (struct hugepages_need){ .node = node, .size_kib = size_kib, .pages = pages };
	return 0;
}

/* PAGES of SIZE_KIB split evenly over NODES (NULL: every node offering the size), the first nodes taking the
 * remainder; each node must offer the size. */
static int place(struct sizing *s, uint64_t pages, uint64_t size_kib, const struct nodeset *nodes)
{
	struct nodeset where = { 0 };
	char label[32], sizes[256];
	unsigned k;
	int r;

	if (nodes) {
		where = *nodes;
		for (unsigned i = 0; i < nodeset_count(&where); i++) {
			unsigned node = nodeset_nth(&where, i);

			if (!offered(s->host, node, size_kib)) {
				offered_sizes(s->host, sizes, sizeof(sizes));
				return why(s, "the host offers no %s hugepages on node %u (it offers: %s)",
					   hugepages_size_label(size_kib, label), node, sizes);
			}
		}
	} else {
		for (size_t i = 0; i < s->host->n_offers; i++)
			if (s->host->offers[i].size_kib == size_kib)
				nodeset_add(&where, s->host->offers[i].node);
		if (nodeset_count(&where) == 0) {
			offered_sizes(s->host, sizes, sizeof(sizes));
			return why(s, "the host offers no %s hugepages (it offers: %s)",
				   hugepages_size_label(size_kib, label), sizes);
		}
	}
	k = nodeset_count(&where);
	for (unsigned i = 0; i < k; i++) {
		r = add_need(s, nodeset_nth(&where, i), size_kib, pages / k + (i < pages % k));
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t pages_for(uint64_t memory_kib, uint64_t size_kib)
{
	return memory_kib / size_kib + (memory_kib % size_kib != 0);
}

/* The page size for guest cell CELL (has_cell false: the whole memory, no cells) from the XML's <page>s. 0
 * when the XML names none for it. */
static int xml_page_size(struct sizing *s, const struct domxml_memory *dom, bool has_cell, unsigned cell, uint64_t *ret)
{
	const struct domxml_page *fallback = NULL;

	for (size_t i = 0; i < dom->n_pages; i++) {
		const struct domxml_page *p = &dom->pages[i];

		if (p->has_cells && has_cell && nodeset_has(&p->cells, cell)) {
			*ret = p->size_kib;
			return 0;
		}
		if (!p->has_cells) {
			if (fallback && fallback->size_kib != p->size_kib)
				return why(s, "the domain XML has two <hugepages><page> sizes without a nodeset");
			fallback = p;
		}
	}
	*ret = fallback ? fallback->size_kib : 0;
	return 0;
}

/* The size for one portion of memory: the XML's, else hugepage-size, else the host's default; both given
 * must agree. */
static int choose_size(struct sizing *s, const struct hugepages_request *req, uint64_t xml_size, uint64_t *ret)
{
	char a[32], b[32];

	if (xml_size && req->size_kib && xml_size != req->size_kib)
		return why(s, "hugepage-size = %s, but the domain XML asks for %s pages",
			   hugepages_size_label(req->size_kib, a), hugepages_size_label(xml_size, b));
	*ret = xml_size ? xml_size : req->size_kib ? req->size_kib : s->host->default_size_kib;
	if (*ret == 0)
		return why(s, "the host offers no hugepages at all");
	return 0;
}

/* The host nodes guest cell CELL's memory comes from (or the whole memory's, without cells); NULL: any. */
static const struct nodeset *host_nodes_for(const struct domxml_memory *dom, bool has_cell, unsigned cell)
{
	for (size_t i = 0; has_cell && i < dom->n_memnodes; i++)
		if (dom->memnodes[i].cell == cell)
			return &dom->memnodes[i].host_nodes;
	return dom->has_host_nodes ? &dom->host_nodes : NULL;
}

static int size_auto(struct sizing *s, const struct hugepages_request *req, const struct domxml_memory *dom)
{
	uint64_t xml_size, size;
	int r;

	if (!dom)
		return why(s, "hugepages = auto needs the domain XML (or give hugepages = COUNT)");
	if (!dom->hugepages)
		return why(s, "hugepages = auto, but the domain XML has no <memoryBacking><hugepages>");
	if (dom->n_cells == 0) {
		if (dom->memory_kib == 0)
			return why(s, "hugepages = auto, but the domain XML has no <memory>");
		r = xml_page_size(s, dom, false, 0, &xml_size);
		if (r < 0)
			return r;
		r = choose_size(s, req, xml_size, &size);
		if (r < 0)
			return r;
		return place(s, pages_for(dom->memory_kib, size), size, host_nodes_for(dom, false, 0));
	}
	for (size_t i = 0; i < dom->n_cells; i++) {
		const struct domxml_cell *c = &dom->cells[i];

		r = xml_page_size(s, dom, true, c->id, &xml_size);
		if (r < 0)
			return r;
		r = choose_size(s, req, xml_size, &size);
		if (r < 0)
			return r;
		r = place(s, pages_for(c->memory_kib, size), size, host_nodes_for(dom, true, c->id));
		if (r < 0)
			return r;
	}
	return 0;
}

static int size_count(struct sizing *s, const struct hugepages_request *req, const struct domxml_memory *dom)
{
	uint64_t xml_size = 0, size;
	int r;

	if (dom && dom->hugepages) {
		/* One size for the whole count: the XML's, when it names exactly one. */
		for (size_t i = 0; i < dom->n_pages; i++) {
			if (xml_size && dom->pages[i].size_kib != xml_size && !req->size_kib)
				return why(s,
					   "hugepages = %" PRIu64 " with several page sizes in the domain XML: "
					   "give hugepage-size",
					   req->count);
			xml_size = dom->pages[i].size_kib;
		}
		if (req->size_kib)
			xml_size = 0; /* hugepage-size chooses among the XML's sizes */
	}
	r = choose_size(s, req, xml_size, &size);
	if (r < 0)
		return r;
	return place(s, req->count, size, dom && dom->has_host_nodes ? &dom->host_nodes : NULL);
}

static int compare_needs(const void *a, const void *b)
{
	const struct hugepages_need *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->size_kib < y->size_kib ? -1 : x->size_kib > y->size_kib;
}

int hugepages_size(const struct hugepages_request *req, const struct domxml_memory *dom,
		   const struct hugepages_host *host, struct hugepages_need **ret, size_t *ret_n, char **ret_why)
{
	struct sizing s = { .host = host, .why = ret_why };
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	*ret_why = NULL;
	if (req->mode == HUGEPAGES_AUTO)
		r = size_auto(&s, req, dom);
	else if (req->mode == HUGEPAGES_COUNT)
		r = size_count(&s, req, dom);
	if (r < 0) {
		free(s.needs);
		return r;
	}
	if (s.n_needs)
		qsort(s.needs, s.n_needs, sizeof(*s.needs), compare_needs);
	*ret = s.needs;
	*ret_n = s.n_needs;
	return 0;
}
