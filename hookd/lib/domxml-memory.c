#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domxml-memory.h"
#include "util.h"

static void xml_doc_freep(xmlDocPtr *d)
{
	if (*d)
		xmlFreeDoc(*d);
}

static void xml_freep(xmlChar **s)
{
	if (*s)
		xmlFree(*s);
}
#define _cleanup_xml_ _cleanup_(xml_freep)

/* The scale of libvirt's unit names (virScaleInteger): "b"/"bytes", then k, M, G, T, P, E alone or with "iB"
 * (powers of 1024) or with "B" (powers of 1000), any case. NULL or "" is KiB, libvirt's default for memory. */
static int unit_scale(const char *unit, uint64_t *ret)
{
	static const char powers[] = "kmgtpe";
	const char *p;
	uint64_t base, scale = 1;

	if (!unit || !*unit) {
		*ret = 1024;
		return 0;
	}
	if (strcasecmp(unit, "b") == 0 || strcasecmp(unit, "byte") == 0 || strcasecmp(unit, "bytes") == 0) {
		*ret = 1;
		return 0;
	}
	p = strchr(powers, tolower((unsigned char)unit[0]));
	if (!p || !unit[0])
		return -EINVAL;
	if (unit[1] == '\0' || strcasecmp(unit + 1, "ib") == 0)
		base = 1024;
	else if (strcasecmp(unit + 1, "b") == 0)
		base = 1000;
	else
		return -EINVAL;
	for (long i = 0; i <= p - powers; i++)
		scale *= base;
	*ret = scale;
	return 0;
}

int domxml_scale_kib(const char *value, const char *unit, uint64_t *ret)
{
	const char *p = value;
	uint64_t v = 0, scale, kib;
	int r;

	if (!value)
		return -EINVAL;
	r = unit_scale(unit, &scale);
	if (r < 0)
		return r;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p)
		return -EINVAL;
	/* KiB rounded up, without overflowing on the way: whole KiB of the scale, or bytes. */
	if (scale % 1024 == 0) {
		if (v && scale / 1024 > UINT64_MAX / v)
			return -ERANGE;
		kib = v * (scale / 1024);
	} else {
		if (v && scale > UINT64_MAX / v)
			return -ERANGE;
		kib = v * scale / 1024 + (v * scale % 1024 != 0);
	}
	*ret = kib;
	return 0;
}

static int fail(char **ret_error, xmlNodePtr node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, xmlNodePtr node, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (node)
		n = asprintf(ret_error, "the domain XML's %s (line %ld)", what, xmlGetLineNo(node));
	else
		n = asprintf(ret_error, "the domain XML %s", what);
	if (n < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	/* Attribute text from the XML may hold a newline: the message stays one line. */
	for (char *c = *ret_error; *c; c++)
		if (*c == '\n' || *c == '\r' || (unsigned char)*c < 0x20)
			*c = '?';
	return -EINVAL;
}

static bool is_element(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	if (!parent)
		return NULL;
	for (xmlNodePtr n = parent->children; n; n = n->next)
		if (is_element(n, name))
			return n;
	return NULL;
}

static char *prop(xmlNodePtr n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

/* A size: the element's text (VALUE_ATTR NULL) or attribute, in the unit of its "unit" attribute. */
static int read_size(xmlNodePtr n, const char *value_attr, const char *what, uint64_t *ret, char **ret_error)
{
	_cleanup_xml_ xmlChar *value = value_attr ? (xmlChar *)prop(n, value_attr) : xmlNodeGetContent(n);
	_cleanup_xml_ xmlChar *unit = (xmlChar *)prop(n, "unit");
	int r;

	if (!value)
		return fail(ret_error, n, "%s has no size", what);
	r = domxml_scale_kib((const char *)value, (const char *)unit, ret);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(ret_error, n, "%s is not a size: '%.40s' '%.20s'", what, (const char *)value,
			    unit ? (const char *)unit : "KiB");
	return 0;
}

static int read_nodeset(xmlNodePtr n, const char *attr, const char *what, bool *ret_has, struct nodeset *ret,
			char **ret_error)
{
	_cleanup_xml_ xmlChar *v = (xmlChar *)prop(n, attr);

	*ret_has = v != NULL;
	if (v && nodeset_parse((const char *)v, ret) < 0)
		return fail(ret_error, n, "%s is not a nodeset: '%.40s'", what, (const char *)v);
	return 0;
}

/* A small unsigned id attribute ("cellid", "id"), below NODESET_MAX. */
static int read_id(xmlNodePtr n, const char *attr, const char *what, unsigned *ret, char **ret_error)
{
	_cleanup_xml_ xmlChar *v = (xmlChar *)prop(n, attr);
	struct nodeset one;

	/* A single id is a nodeset of one element without ranges. */
	if (!v || !isdigit((unsigned char)v[0]) || strspn((const char *)v, "0123456789") != (size_t)xmlStrlen(v) ||
	    nodeset_parse((const char *)v, &one) < 0)
		return fail(ret_error, n, "%s has no valid %s", what, attr);
	*ret = nodeset_nth(&one, 0);
	return 0;
}

static void *grow(void *array, size_t n, size_t size)
{
	if (n >= SIZE_MAX / size - 1)
		return NULL;
	return realloc(array, (n + 1) * size);
}

static int read_pages(xmlNodePtr hugepages, struct domxml_memory *m, char **ret_error)
{
	for (xmlNodePtr n = hugepages->children; n; n = n->next) {
		struct domxml_page page = { 0 }, *grown;
		int r;

		if (!is_element(n, "page"))
			continue;
		r = read_size(n, "size", "<hugepages><page>", &page.size_kib, ret_error);
		if (r < 0)
			return r;
		if (page.size_kib == 0)
			return fail(ret_error, n, "<hugepages><page> has size 0");
		r = read_nodeset(n, "nodeset", "<hugepages><page> nodeset", &page.has_cells, &page.cells, ret_error);
		if (r < 0)
			return r;
		grown = grow(m->pages, m->n_pages, sizeof(*m->pages));
		if (!grown)
			return -ENOMEM;
		m->pages = grown;
		m->pages[m->n_pages++] = page;
	}
	return 0;
}

static int read_cells(xmlNodePtr numa, struct domxml_memory *m, char **ret_error)
{
	for (xmlNodePtr n = numa->children; n; n = n->next) {
		struct domxml_cell cell = { 0 }, *grown;
		_cleanup_xml_ xmlChar *id = NULL;
		int r;

		if (!is_element(n, "cell"))
			continue;
		/* libvirt numbers cells without an id by their position. */
		id = (xmlChar *)prop(n, "id");
		if (id) {
			r = read_id(n, "id", "<numa><cell>", &cell.id, ret_error);
			if (r < 0)
				return r;
		} else
			cell.id = (unsigned)m->n_cells;
		for (size_t i = 0; i < m->n_cells; i++)
			if (m->cells[i].id == cell.id)
				return fail(ret_error, n, "<numa><cell> id %u is given twice", cell.id);
		r = read_size(n, "memory", "<numa><cell> memory", &cell.memory_kib, ret_error);
		if (r < 0)
			return r;
		grown = grow(m->cells, m->n_cells, sizeof(*m->cells));
		if (!grown)
			return -ENOMEM;
		m->cells = grown;
		m->cells[m->n_cells++] = cell;
	}
	return 0;
}

static bool has_cell(const struct domxml_memory *m, unsigned id)
{
	for (size_t i = 0; i < m->n_cells; i++)
		if (m->cells[i].id == id)
			return true;
	return false;
}

static int read_numatune(xmlNodePtr numatune, struct domxml_memory *m, char **ret_error)
{
	xmlNodePtr memory = child(numatune, "memory");
	int r;

	if (memory) {
		r = read_nodeset(memory, "nodeset", "<numatune><memory> nodeset", &m->has_host_nodes, &m->host_nodes,
				 ret_error);
		if (r < 0)
			return r;
	}
	for (xmlNodePtr n = numatune->children; n; n = n->next) {
		struct domxml_memnode memnode = { 0 }, *grown;
		bool has;

		if (!is_element(n, "memnode"))
			continue;
		r = read_id(n, "cellid", "<numatune><memnode>", &memnode.cell, ret_error);
		if (r < 0)
			return r;
		if (!has_cell(m, memnode.cell))
			return fail(ret_error, n, "<numatune><memnode> names cell %u, which <cpu><numa> does not have",
				    memnode.cell);
		for (size_t i = 0; i < m->n_memnodes; i++)
			if (m->memnodes[i].cell == memnode.cell)
				return fail(ret_error, n, "<numatune><memnode> for cell %u is given twice",
					    memnode.cell);
		r = read_nodeset(n, "nodeset", "<numatune><memnode> nodeset", &has, &memnode.host_nodes, ret_error);
		if (r < 0)
			return r;
		if (!has)
			return fail(ret_error, n, "<numatune><memnode> for cell %u has no nodeset", memnode.cell);
		grown = grow(m->memnodes, m->n_memnodes, sizeof(*m->memnodes));
		if (!grown)
			return -ENOMEM;
		m->memnodes = grown;
		m->memnodes[m->n_memnodes++] = memnode;
	}
	return 0;
}

void domxml_memory_clear(struct domxml_memory *m)
{
	if (!m)
		return;
	free(m->pages);
	free(m->cells);
	free(m->memnodes);
	*m = (struct domxml_memory){ 0 };
}

int domxml_memory(const char *xml, size_t len, struct domxml_memory *ret, char **ret_error)
{
	_cleanup_(xml_doc_freep) xmlDocPtr doc = NULL;
	xmlNodePtr root, node;
	int r;

	*ret = (struct domxml_memory){ 0 };
	*ret_error = NULL;
	if (len > 0 && len <= INT_MAX)
		doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!is_element(root, "domain"))
		return fail(ret_error, NULL, "does not parse as a <domain>");

	node = child(root, "memory");
	if (node) {
		r = read_size(node, NULL, "<memory>", &ret->memory_kib, ret_error);
		if (r < 0)
			return r;
	}
	node = child(child(root, "memoryBacking"), "hugepages");
	if (node) {
		ret->hugepages = true;
		r = read_pages(node, ret, ret_error);
		if (r < 0)
			return r;
	}
	node = child(child(root, "cpu"), "numa");
	if (node) {
		r = read_cells(node, ret, ret_error);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ret->n_pages; i++)
		for (unsigned j = 0; ret->pages[i].has_cells && j < nodeset_count(&ret->pages[i].cells); j++)
			if (!has_cell(ret, nodeset_nth(&ret->pages[i].cells, j)))
				return fail(
					ret_error, NULL,
					"has a <hugepages><page> for guest cell %u, which <cpu><numa> does not have",
					nodeset_nth(&ret->pages[i].cells, j));
	node = child(root, "numatune");
	if (node) {
		r = read_numatune(node, ret, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}
