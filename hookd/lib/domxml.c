#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "cpuset.h"
#include "domxml.h"
#include "strv.h"
#include "util.h"

static void xml_doc_freep(xmlDocPtr *d)
{
	if (*d)
		xmlFreeDoc(*d);
}

static void xpath_ctx_freep(xmlXPathContextPtr *c)
{
	if (*c)
		xmlXPathFreeContext(*c);
}

static void xpath_obj_freep(xmlXPathObjectPtr *o)
{
	if (*o)
		xmlXPathFreeObject(*o);
}

static void xml_freep(xmlChar **s)
{
	if (*s)
		xmlFree(*s);
}

/* One hex attribute of <address>, "0x0a" or "0a", at most MAX. */
static int address_part(xmlNodePtr node, const char *attr, unsigned max, unsigned *ret)
{
	__attribute__((cleanup(xml_freep))) xmlChar *v = xmlGetProp(node, (const xmlChar *)attr);
	char *end;
	unsigned long n;

	if (!v)
		return -EINVAL;
	errno = 0;
	n = strtoul((const char *)v, &end, 16);
	if (errno || end == (char *)v || *end || n > max)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

/* The document when XML parses and its root is <domain>, else NULL. No network, no entity expansion: the XML
 * comes from libvirt but is still input. */
static xmlDocPtr domain_parse(const char *xml, size_t len)
{
	xmlDocPtr doc;

	if (len == 0 || len > INT_MAX)
		return NULL;
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc &&
	    (!xmlDocGetRootElement(doc) || !xmlStrEqual(xmlDocGetRootElement(doc)->name, (const xmlChar *)"domain"))) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

int domxml_uuid(const char *xml, size_t len, char **ret)
{
	__attribute__((cleanup(xml_doc_freep))) xmlDocPtr doc = domain_parse(xml, len);
	__attribute__((cleanup(xml_freep))) xmlChar *content = NULL;

	if (!doc)
		return -EINVAL;
	for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)"uuid")) {
			content = xmlNodeGetContent(n);
			break;
		}
	if (!content || xmlStrlen(content) > DOMXML_UUID_MAX)
		return -ENOENT;
	*ret = strdup((const char *)content);
	return *ret ? 0 : -ENOMEM;
}

/* The canonical addresses of the <address> nodes XPATH selects, in document order (domxml_pci_hostdevs). */
static int hostdev_addresses(const char *xml, size_t len, const char *xpath, char ***ret, char **ret_error)
{
	__attribute__((cleanup(xml_doc_freep))) xmlDocPtr doc = NULL;
	__attribute__((cleanup(xpath_ctx_freep))) xmlXPathContextPtr ctx = NULL;
	__attribute__((cleanup(xpath_obj_freep))) xmlXPathObjectPtr obj = NULL;
	_cleanup_strv_free_ char **out = NULL;
	size_t n = 0;

	*ret_error = NULL;
	doc = domain_parse(xml, len);
	if (!doc) {
		*ret_error = strdup("the domain XML does not parse as a <domain>");
		return -EINVAL;
	}
	ctx = xmlXPathNewContext(doc);
	if (!ctx)
		return -ENOMEM;
	obj = xmlXPathEvalExpression((const xmlChar *)xpath, ctx);
	if (!obj)
		return -ENOMEM;
	out = calloc(1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	for (int i = 0; obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
		xmlNodePtr node = obj->nodesetval->nodeTab[i];
		unsigned dom, bus, slot, fn;
		char **grown;

		if (address_part(node, "domain", 0xffff, &dom) < 0 || address_part(node, "bus", 0xff, &bus) < 0 ||
		    address_part(node, "slot", 0x1f, &slot) < 0 || address_part(node, "function", 7, &fn) < 0) {
			if (asprintf(ret_error, "the domain XML has a malformed PCI <hostdev> address (line %ld)",
				     xmlGetLineNo(node)) < 0)
				*ret_error = NULL;
			return -EINVAL;
		}
		grown = realloc(out, (n + 2) * sizeof(char *));
		if (!grown)
			return -ENOMEM;
		out = grown;
		if (asprintf(&out[n], "%04x:%02x:%02x.%x", dom, bus, slot, fn) < 0) {
			out[n] = NULL;
			return -ENOMEM;
		}
		out[++n] = NULL;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

int domxml_pci_hostdevs(const char *xml, size_t len, char ***ret, char **ret_error)
{
	return hostdev_addresses(xml, len, "/domain/devices/hostdev[@mode='subsystem' and @type='pci']/source/address",
				 ret, ret_error);
}

int domxml_managed_pci_hostdevs(const char *xml, size_t len, char ***ret, char **ret_error)
{
	/* libvirt's managed is "yes" or "no", "no" when absent. */
	return hostdev_addresses(
		xml, len,
		"/domain/devices/hostdev[@mode='subsystem' and @type='pci' and @managed='yes']/source/address", ret,
		ret_error);
}

/* The first child element of PARENT named NAME, or NULL. */
static xmlNodePtr child_element(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)name))
			return n;
	return NULL;
}

/* NODE's cpuset attribute in libvirt's syntax, added to *SET. */
static int add_pin(xmlNodePtr node, struct cpuset *set, char **ret_error)
{
	__attribute__((cleanup(xml_freep))) xmlChar *v = xmlGetProp(node, (const xmlChar *)"cpuset");
	const char *why = "missing";
	struct cpuset pin;

	if (!v || cpuset_parse_list((const char *)v, CPUSET_LIBVIRT, &pin, &why) < 0) {
		if (asprintf(ret_error, "the domain XML's <%s> on line %ld has a bad cpuset: %s",
			     (const char *)node->name, xmlGetLineNo(node), why) < 0)
			*ret_error = NULL;
		return -EINVAL;
	}
	cpuset_union(set, &pin);
	return 0;
}

/* <vcpu>'s text: the number of vCPUs, 1 .. CPUSET_MAX. */
static int vcpu_count(xmlNodePtr vcpu, unsigned *ret)
{
	__attribute__((cleanup(xml_freep))) xmlChar *text = vcpu ? xmlNodeGetContent(vcpu) : NULL;
	char *end;
	unsigned long n;

	if (!text)
		return -EINVAL;
	errno = 0;
	n = strtoul((const char *)text, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t')
		end++;
	if (errno || end == (char *)text || *end || n == 0 || n > CPUSET_MAX)
		return -EINVAL;
	*ret = (unsigned)n;
	return 0;
}

int domxml_pinned_cpus(const char *xml, size_t len, struct cpuset *ret, char **ret_error)
{
	__attribute__((cleanup(xml_doc_freep))) xmlDocPtr doc = NULL;
	struct cpuset cpus, vcpus_pinned;
	xmlNodePtr root, vcpu, cputune;
	bool emulator_pinned = false, vcpu_cpuset;
	unsigned n_vcpus;
	int r;

	*ret_error = NULL;
	doc = domain_parse(xml, len);
	if (!doc) {
		*ret_error = strdup("the domain XML does not parse as a <domain>");
		return -EINVAL;
	}
	root = xmlDocGetRootElement(doc);
	vcpu = child_element(root, "vcpu");
	if (vcpu_count(vcpu, &n_vcpus) < 0) {
		*ret_error = strdup("the domain XML has no <vcpu> count (1 to 8192)");
		return -EINVAL;
	}
	cpuset_clear(&cpus);
	cpuset_clear(&vcpus_pinned);
	cputune = child_element(root, "cputune");
	for (xmlNodePtr n = cputune ? cputune->children : NULL; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrEqual(n->name, (const xmlChar *)"vcpupin")) {
			__attribute__((cleanup(xml_freep))) xmlChar *id = xmlGetProp(n, (const xmlChar *)"vcpu");
			unsigned long v;
			char *end;

			errno = 0;
			v = id ? strtoul((const char *)id, &end, 10) : 0;
			if (!id || errno || end == (char *)id || *end || v >= n_vcpus) {
				if (asprintf(ret_error,
					     "the domain XML's <vcpupin> on line %ld names no vCPU of <vcpu>",
					     xmlGetLineNo(n)) < 0)
					*ret_error = NULL;
				return -EINVAL;
			}
			(void)cpuset_add(&vcpus_pinned, (unsigned)v); /* v < n_vcpus <= CPUSET_MAX */
		} else if (xmlStrEqual(n->name, (const xmlChar *)"emulatorpin")) {
			emulator_pinned = true;
		} else if (!xmlStrEqual(n->name, (const xmlChar *)"iothreadpin")) {
			continue;
		}
		r = add_pin(n, &cpus, ret_error);
		if (r < 0)
			return r;
	}
	/* libvirt's default placement: <vcpu cpuset> for unpinned vCPUs and an unpinned emulator. */
	vcpu_cpuset = xmlHasProp(vcpu, (const xmlChar *)"cpuset") != NULL;
	if (vcpu_cpuset && (!emulator_pinned || cpuset_count(&vcpus_pinned) < n_vcpus)) {
		r = add_pin(vcpu, &cpus, ret_error);
		if (r < 0)
			return r;
	} else if (!vcpu_cpuset && cpuset_count(&vcpus_pinned) < n_vcpus) {
		int free_vcpu = 0;

		while (cpuset_has(&vcpus_pinned, (unsigned)free_vcpu))
			free_vcpu++;
		if (asprintf(ret_error,
			     "the domain XML does not pin vCPU %d (no <cputune><vcpupin vcpu='%d'> and no <vcpu "
			     "cpuset>)",
			     free_vcpu, free_vcpu) < 0)
			*ret_error = NULL;
		return -ENOENT;
	}
	if (cpuset_is_empty(&cpus)) {
		*ret_error = strdup("the domain XML pins its vCPUs to no host CPU");
		return -ENOENT;
	}
	*ret = cpus;
	return 0;
}
