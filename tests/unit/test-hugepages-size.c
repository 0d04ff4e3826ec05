/* Hugepage sizing (host-hugepages-size.h) and what it reads: libvirt's units and nodesets, the domain XML's
 * memory (domxml-memory.h), and the host's offer on a fixture tree. Pure: no host state is touched. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domxml-memory.h"
#include "host-hugepages-size.h"
#include "host-hugepages.h"
#include "nodeset.h"
#include "sysfs-fixture.h"
#include "test.h"
#include "util.h"

static void test_units(void)
{
	uint64_t kib;

	CHECK_INT(domxml_scale_kib("2048", NULL, &kib), 0);
	CHECK_INT(kib, 2048);
	CHECK_INT(domxml_scale_kib("1", "G", &kib), 0);
	CHECK_INT(kib, 1048576);
	CHECK_INT(domxml_scale_kib(" 16 ", "GiB", &kib), 0);
	CHECK_INT(kib, 16777216);
	CHECK_INT(domxml_scale_kib("2", "MiB", &kib), 0);
	CHECK_INT(kib, 2048);
	CHECK_INT(domxml_scale_kib("1", "KB", &kib), 0); /* 1000 bytes, rounded up */
	CHECK_INT(kib, 1);
	CHECK_INT(domxml_scale_kib("2000", "mb", &kib), 0); /* 2000 * 10^6 bytes */
	CHECK_INT(kib, 1953125);
	CHECK_INT(domxml_scale_kib("1073741824", "bytes", &kib), 0);
	CHECK_INT(kib, 1048576);
	CHECK_INT(domxml_scale_kib("1025", "b", &kib), 0);
	CHECK_INT(kib, 2);
	CHECK_INT(domxml_scale_kib("1", "Q", &kib), -EINVAL);
	CHECK_INT(domxml_scale_kib("1", "GiBs", &kib), -EINVAL);
	CHECK_INT(domxml_scale_kib("-1", NULL, &kib), -EINVAL);
	CHECK_INT(domxml_scale_kib("1.5", "G", &kib), -EINVAL);
	CHECK_INT(domxml_scale_kib("", NULL, &kib), -EINVAL);
	CHECK_INT(domxml_scale_kib("99999999999999999999", NULL, &kib), -ERANGE);
	CHECK_INT(domxml_scale_kib("100000000000", "E", &kib), -ERANGE);
}

static void test_nodesets(void)
{
	struct nodeset s;
	char buf[64];

	CHECK_INT(nodeset_parse("0-3,^2,5", &s), 0);
	CHECK_INT(nodeset_count(&s), 4);
	CHECK_INT(nodeset_format(&s, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "0-1,3,5");
	CHECK_INT(nodeset_nth(&s, 2), 3);
	CHECK_INT(nodeset_nth(&s, 4), NODESET_MAX);
	CHECK_INT(nodeset_parse(" 1 , 1023", &s), 0);
	CHECK_INT(nodeset_format(&s, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "1,1023");
	CHECK_INT(nodeset_format(&s, buf, 3), -ENOBUFS);
	CHECK_INT(nodeset_parse("1024", &s), -ERANGE);
	CHECK_INT(nodeset_parse("3-1", &s), -EINVAL);
	CHECK_INT(nodeset_parse("", &s), -EINVAL);
	CHECK_INT(nodeset_parse("0,", &s), -EINVAL);
	CHECK_INT(nodeset_parse("^0", &s), -EINVAL);
	CHECK_INT(nodeset_parse("a", &s), -EINVAL);
	CHECK_INT(nodeset_parse("0--1", &s), -EINVAL);
}

static void test_targets(void)
{
	_cleanup_free_ char *t = NULL;
	unsigned node;
	uint64_t size;

	CHECK_INT(hugepages_target(1, 1048576, &t), 0);
	CHECK_STR(t, "node1/hugepages-1048576kB");
	CHECK_INT(hugepages_target_parse(t, &node, &size), 0);
	CHECK_INT(node, 1);
	CHECK_INT(size, 1048576);
	CHECK_INT(hugepages_target_parse("node0/hugepages-2048kB/../x", &node, &size), -EINVAL);
	CHECK_INT(hugepages_target_parse("node00/hugepages-2048kB", &node, &size), -EINVAL);
	CHECK_INT(hugepages_target_parse("node0/hugepages-0kB", &node, &size), -EINVAL);
	CHECK_INT(hugepages_target_parse("node1024/hugepages-2048kB", &node, &size), -EINVAL);
	CHECK_INT(hugepages_target_parse("hugepages-2048kB", &node, &size), -EINVAL);
	CHECK_INT(hugepages_target_parse(NULL, &node, &size), -EINVAL);
}

/* A host with NODES nodes, each offering 2 MiB and 1 GiB pages; 2 MiB the default. */
static struct hugepages_host host_of(unsigned nodes, struct hugepages_offer *buf)
{
	for (unsigned i = 0; i < nodes; i++) {
		buf[2 * i] = (struct hugepages_offer){ .node = i, .size_kib = 2048 };
		buf[2 * i + 1] = (struct hugepages_offer){ .node = i, .size_kib = 1048576 };
	}
	return (struct hugepages_host){ .offers = buf, .n_offers = 2 * nodes, .default_size_kib = 2048 };
}

/* The sizing of XML (NULL: none) under REQ on HOST as "node:size:pages ..." (or "refused: why"). */
static char *sizing(const char *xml, struct hugepages_request req, const struct hugepages_host *host)
{
	struct domxml_memory dom;
	struct hugepages_need *needs = NULL;
	_cleanup_free_ char *error = NULL, *why = NULL;
	char *out = calloc(1, 1024);
	size_t n = 0;
	int r;

	CHECK(out);
	if (xml) {
		r = domxml_memory(xml, strlen(xml), &dom, &error);
		if (r < 0) {
			snprintf(out, 1024, "xml: %s", error);
			domxml_memory_clear(&dom);
			return out;
		}
	}
	r = hugepages_size(&req, xml ? &dom : NULL, host, &needs, &n, &why);
	if (r < 0) {
		CHECK_INT(r, -EINVAL);
		CHECK(why && !strchr(why, '\n'));
		snprintf(out, 1024, "refused: %s", why);
	}
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), 1024 - strlen(out), "%s%u:%" PRIu64 ":%" PRIu64, i ? " " : "",
			 needs[i].node, needs[i].size_kib, needs[i].pages);
	free(needs);
	if (xml)
		domxml_memory_clear(&dom);
	return out;
}

#define AUTO ((struct hugepages_request){ .mode = HUGEPAGES_AUTO })
#define DOMAIN(body) "<domain type='kvm'><name>win10</name>" body "</domain>"

static void check_sizing(const char *xml, struct hugepages_request req, unsigned nodes, const char *expected)
{
	struct hugepages_offer buf[16];
	struct hugepages_host host = host_of(nodes, buf);
	_cleanup_free_ char *got = sizing(xml, req, &host);

	CHECK_STR(got, expected);
}

static void test_sizing_from_xml(void)
{
	/* The seed's machine: 16 GiB, <hugepages/> without a size: the host's default size, one node. */
	check_sizing(DOMAIN("<memory unit='KiB'>16777216</memory><memoryBacking><hugepages/></memoryBacking>"), AUTO, 1,
		     "0:2048:8192");
	/* 1 GiB pages; 1000 MiB rounds up to one page. */
	check_sizing(DOMAIN("<memory unit='MiB'>1000</memory><memoryBacking><hugepages><page size='1' "
			    "unit='G'/></hugepages></memoryBacking>"),
		     AUTO, 1, "0:1048576:1");
	/* Unbound on two nodes: split evenly, node 0 takes the remainder. */
	check_sizing(DOMAIN("<memory unit='MiB'>10</memory><memoryBacking><hugepages/></memoryBacking>"), AUTO, 2,
		     "0:2048:3 1:2048:2");
	/* <numatune><memory nodeset>: those nodes only. */
	check_sizing(DOMAIN("<memory unit='GiB'>6</memory><memoryBacking><hugepages><page size='1048576'/>"
			    "</hugepages></memoryBacking><numatune><memory mode='strict' nodeset='1-2'/></numatune>"),
		     AUTO, 3, "1:1048576:3 2:1048576:3");
	/* Guest cells: cell 0 in 1 GiB pages on node 0 (memnode), cell 1 in the default <page> on node 1. */
	check_sizing(DOMAIN("<memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='1' unit='GiB' "
			    "nodeset='0'/><page size='2' unit='M'/></hugepages></memoryBacking>"
			    "<cpu><numa><cell id='0' cpus='0-3' memory='4' unit='GiB'/><cell id='1' cpus='4-7' "
			    "memory='4194304'/></numa></cpu><numatune><memnode cellid='0' mode='strict' "
			    "nodeset='0'/><memnode cellid='1' mode='strict' nodeset='1'/></numatune>"),
		     AUTO, 2, "0:1048576:4 1:2048:2048");
	/* Two cells on one node with one size: one need, added up. */
	check_sizing(DOMAIN("<memory unit='GiB'>4</memory><memoryBacking><hugepages/></memoryBacking><cpu><numa>"
			    "<cell memory='1' unit='GiB'/><cell memory='3' unit='GiB'/></numa></cpu>"
			    "<numatune><memory nodeset='0'/></numatune>"),
		     AUTO, 2, "0:2048:2048");
	/* hugepage-size gives the size when the XML names none. */
	check_sizing(DOMAIN("<memory unit='GiB'>4</memory><memoryBacking><hugepages/></memoryBacking>"),
		     ((struct hugepages_request){ .mode = HUGEPAGES_AUTO, .size_kib = 1048576 }), 1, "0:1048576:4");
}

static void test_sizing_refused(void)
{
	struct hugepages_offer only_2m[] = { { .node = 0, .size_kib = 2048 } };
	struct hugepages_host small = { .offers = only_2m, .n_offers = 1, .default_size_kib = 2048 };
	_cleanup_free_ char *got = NULL;

	got = sizing(DOMAIN("<memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='1' unit='G'/>"
			    "</hugepages></memoryBacking>"),
		     AUTO, &small);
	CHECK_STR(got, "refused: the host offers no 1 GiB hugepages (it offers: 2 MiB)");
	check_sizing(DOMAIN("<memory unit='GiB'>8</memory><memoryBacking><hugepages/></memoryBacking>"
			    "<numatune><memory nodeset='3'/></numatune>"),
		     AUTO, 2, "refused: the host offers no 2 MiB hugepages on node 3 (it offers: 2 MiB, 1 GiB)");
	check_sizing(DOMAIN("<memory unit='GiB'>8</memory>"), AUTO, 1,
		     "refused: hugepages = auto, but the domain XML has no <memoryBacking><hugepages>");
	check_sizing(NULL, AUTO, 1, "refused: hugepages = auto needs the domain XML (or give hugepages = COUNT)");
	check_sizing(DOMAIN("<memoryBacking><hugepages/></memoryBacking>"), AUTO, 1,
		     "refused: hugepages = auto, but the domain XML has no <memory>");
	check_sizing(DOMAIN("<memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='2048'/></hugepages>"
			    "</memoryBacking>"),
		     ((struct hugepages_request){ .mode = HUGEPAGES_AUTO, .size_kib = 1048576 }), 1,
		     "refused: hugepage-size = 1 GiB, but the domain XML asks for 2 MiB pages");
	check_sizing(NULL, ((struct hugepages_request){ .mode = HUGEPAGES_COUNT, .count = 4, .size_kib = 64 }), 1,
		     "refused: the host offers no 64 KiB hugepages (it offers: 2 MiB, 1 GiB)");
}

static void test_sizing_explicit(void)
{
	check_sizing(NULL, ((struct hugepages_request){ .mode = HUGEPAGES_COUNT, .count = 512 }), 1, "0:2048:512");
	check_sizing(NULL, ((struct hugepages_request){ .mode = HUGEPAGES_COUNT, .count = 8, .size_kib = 1048576 }), 2,
		     "0:1048576:4 1:1048576:4");
	/* The count goes where <numatune> puts the memory, in the XML's page size. */
	check_sizing(DOMAIN("<memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='1' unit='G'/>"
			    "</hugepages></memoryBacking><numatune><memory nodeset='1'/></numatune>"),
		     ((struct hugepages_request){ .mode = HUGEPAGES_COUNT, .count = 6 }), 2, "1:1048576:6");
	check_sizing(NULL, ((struct hugepages_request){ .mode = HUGEPAGES_OFF }), 1, "");
}

static void test_xml_malformed(void)
{
	check_sizing("<domain><memory unit='parsec'>1</memory></domain>", AUTO, 1,
		     "xml: the domain XML's <memory> is not a size: '1' 'parsec' (line 1)");
	check_sizing(DOMAIN("<memory>8</memory><memoryBacking><hugepages><page size='1' unit='G' nodeset='2'/>"
			    "</hugepages></memoryBacking>"),
		     AUTO, 1,
		     "xml: the domain XML has a <hugepages><page> for guest cell 2, which <cpu><numa> does not have");
	check_sizing(DOMAIN("<cpu><numa><cell id='0' memory='1'/><cell id='0' memory='1'/></numa></cpu>"), AUTO, 1,
		     "xml: the domain XML's <numa><cell> id 0 is given twice (line 1)");
	check_sizing(DOMAIN("<numatune><memory nodeset='x&#10;y'/></numatune>"), AUTO, 1,
		     "xml: the domain XML's <numatune><memory> nodeset is not a nodeset: 'x?y' (line 1)");
	check_sizing("<notadomain/>", AUTO, 1, "xml: the domain XML does not parse as a <domain>");
}

static void test_host_read(void)
{
	struct fixture f;
	struct hugepages_host h;

	fx_init(&f);
	fx_write(&f, "sys", "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0");
	fx_write(&f, "sys", "devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages", "0");
	fx_write(&f, "sys", "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "0");
	fx_write(&f, "sys", "devices/system/node/possible", "0-1");
	fx_write(&f, "proc", "meminfo", "MemTotal:       16000000 kB\nHugepagesize:       1048576 kB");
	CHECK_INT(hugepages_host_read(f.sys, f.proc, &h), 0);
	CHECK_INT(h.n_offers, 3);
	CHECK_INT(h.offers[0].node, 0);
	CHECK_INT(h.offers[0].size_kib, 2048);
	CHECK_INT(h.offers[1].size_kib, 1048576);
	CHECK_INT(h.offers[2].node, 1);
	CHECK_INT(h.default_size_kib, 1048576);
	hugepages_host_clear(&h);

	/* Without meminfo: 2 MiB when offered. A host without NUMA sysfs offers nothing. */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/meminfo", f.proc);
		CHECK(unlink(path) == 0);
	}
	CHECK_INT(hugepages_host_read(f.sys, f.proc, &h), 0);
	CHECK_INT(h.default_size_kib, 2048);
	hugepages_host_clear(&h);
	fx_clear(&f);
	fx_init(&f);
	CHECK_INT(hugepages_host_read(f.sys, f.proc, &h), 0);
	CHECK_INT(h.n_offers, 0);
	CHECK_INT(h.default_size_kib, 0);
	hugepages_host_clear(&h);
	fx_clear(&f);
}

/* The plan's host changes: one per (node, size), in order, sized from the XML against the fixture's offer. */
static void test_plan_changes(void)
{
	static const char xml[] = DOMAIN("<memory unit='GiB'>3</memory><memoryBacking><hugepages/></memoryBacking>");
	struct plan_host_change *changes = NULL;
	struct vm_config vm = { .name = "win10", .hugepages = { .mode = HUGEPAGES_AUTO } };
	_cleanup_free_ char *why = NULL, *why2 = NULL;
	struct fixture f;
	size_t n = 0;

	fx_init(&f);
	fx_write(&f, "sys", "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0");
	fx_write(&f, "sys", "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "0");
	CHECK_INT(hugepages_plan_changes(&vm, xml, strlen(xml), f.sys, f.proc, &changes, &n, &why), 0);
	CHECK_INT(n, 2);
	CHECK_INT(changes[0].kind, HOST_HUGEPAGES);
	CHECK_STR(changes[0].target, "node0/hugepages-2048kB");
	CHECK_STR(changes[0].wanted, "768");
	CHECK_STR(changes[1].target, "node1/hugepages-2048kB");
	CHECK_STR(changes[1].wanted, "768");
	CHECK_INT(changes[1].step, HOST_CHANGE_PLANNED);
	CHECK(!changes[1].before && !changes[1].applied);
	/* Refused: 1 GiB pages the fixture does not offer; nothing appended. */
	vm.hugepages = (struct hugepages_request){ .mode = HUGEPAGES_COUNT, .count = 2, .size_kib = 1048576 };
	CHECK_INT(hugepages_plan_changes(&vm, NULL, 0, f.sys, f.proc, &changes, &n, &why2), -EINVAL);
	CHECK_STR(why2, "hugepages: the host offers no 1 GiB hugepages (it offers: 2 MiB)");
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		plan_host_change_clear(&changes[i]);
	free(changes);
	fx_clear(&f);
}

int main(void)
{
	RUN(test_units);
	RUN(test_nodesets);
	RUN(test_targets);
	RUN(test_sizing_from_xml);
	RUN(test_sizing_refused);
	RUN(test_sizing_explicit);
	RUN(test_xml_malformed);
	RUN(test_host_read);
	RUN(test_plan_changes);
	return 0;
}
