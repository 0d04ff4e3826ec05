/* CPU sets (hookd/lib/cpuset.c), the VM's CPUs from its file or its domain XML (vmcpus.c, domxml.c), and the
 * host's online CPUs read from a fixture tree (never the host's /sys). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpuset.h"
#include "domxml.h"
#include "sysfs-fixture.h"
#include "test.h"
#include "util.h"
#include "vmcpus.h"

static struct cpuset parse(const char *text, unsigned flags)
{
	struct cpuset s;

	CHECK_INT(cpuset_parse_list(text, flags, &s, NULL), 0);
	return s;
}

static char *list_of(const struct cpuset *s)
{
	char *text = NULL;

	CHECK_INT(cpuset_format_list(s, &text), 0);
	return text;
}

static void check_list(const char *in, unsigned flags, const char *canonical)
{
	struct cpuset s = parse(in, flags);
	_cleanup_free_ char *out = list_of(&s);

	CHECK_STR(out, canonical);
}

static void check_list_refused(const char *in, unsigned flags, int error, const char *why_part)
{
	struct cpuset s = parse("7", 0), before = s;
	const char *why = NULL;

	CHECK_INT(cpuset_parse_list(in, flags, &s, &why), error);
	CHECK(why && strstr(why, why_part));
	CHECK(cpuset_equal(&s, &before)); /* untouched */
}

static void test_list(void)
{
	check_list("0-3,8,10-11", 0, "0-3,8,10-11");
	check_list("8,0-3,2,11,10\n", 0, "0-3,8,10-11"); /* the kernel's trailing newline; order, overlaps */
	check_list(" 1 2, 3  5 ", 0, "1-3,5");		 /* systemd's blanks */
	check_list("", 0, "");
	check_list("\n", 0, "");
	check_list("8191", 0, "8191");
	check_list("0-8191", 0, "0-8191");
	check_list("0-7,^3", CPUSET_LIBVIRT, "0-2,4-7");
	check_list("^3,0-7", CPUSET_LIBVIRT, "0-7"); /* in order, as libvirt applies them */
	check_list("0-15,^4-11", CPUSET_LIBVIRT, "0-3,12-15");

	check_list_refused("0-3,^2", 0, -EINVAL, "expected a CPU number");
	check_list_refused("3-1", 0, -EINVAL, "downwards");
	check_list_refused("8192", 0, -ERANGE, "too large");
	check_list_refused("99999999999999999999", 0, -ERANGE, "too large");
	check_list_refused("1-", 0, -EINVAL, "expected a CPU number");
	check_list_refused("1;2", 0, -EINVAL, "unexpected character");
	check_list_refused("1\n2", 0, -EINVAL, "unexpected character");
	check_list_refused("0x3", 0, -EINVAL, "unexpected character");
	check_list_refused("-1", 0, -EINVAL, "expected a CPU number");
}

static void test_operations(void)
{
	struct cpuset a = parse("0-7", 0), b = parse("2-3,6", 0), c;
	_cleanup_free_ char *diff = NULL, *uni = NULL, *inter = NULL;

	CHECK_INT(cpuset_count(&a), 8);
	CHECK(cpuset_is_subset(&b, &a) && !cpuset_is_subset(&a, &b));
	c = a;
	cpuset_difference(&c, &b);
	diff = list_of(&c);
	CHECK_STR(diff, "0-1,4-5,7");
	c = b;
	cpuset_union(&c, &(struct cpuset){ .words = { 1u << 9 } });
	uni = list_of(&c);
	CHECK_STR(uni, "2-3,6,9");
	c = a;
	cpuset_intersect(&c, &b);
	inter = list_of(&c);
	CHECK_STR(inter, "2-3,6");
	CHECK(cpuset_equal(&c, &b));
	CHECK_INT(cpuset_next(&b, 0), 2);
	CHECK_INT(cpuset_next(&b, 4), 6);
	CHECK_INT(cpuset_next(&b, 7), -1);
	CHECK_INT(cpuset_add(&c, CPUSET_MAX), -ERANGE);
	CHECK(cpuset_add(&c, CPUSET_MAX - 1) == 0 && cpuset_has(&c, CPUSET_MAX - 1));
	CHECK_INT(cpuset_next(&c, 64), (int)CPUSET_MAX - 1);
	cpuset_clear(&c);
	CHECK(cpuset_is_empty(&c));
}

static void check_mask(const char *list, const char *mask)
{
	struct cpuset s = parse(list, 0), back;
	_cleanup_free_ char *out = NULL;

	CHECK_INT(cpuset_format_mask(&s, &out), 0);
	CHECK_STR(out, mask);
	CHECK_INT(cpuset_parse_mask(mask, &back, NULL), 0);
	CHECK(cpuset_equal(&s, &back));
}

static void test_mask(void)
{
	struct cpuset s, top;
	_cleanup_free_ char *list = NULL, *high = NULL;
	const char *why = NULL;

	check_mask("", "0");
	check_mask("0-3", "f");
	check_mask("0-7", "ff");
	check_mask("32", "1,00000000");
	check_mask("0,32-39,64", "1,000000ff,00000001");
	/* The kernel's own spelling: padded to nr_cpu_ids, with a newline. */
	CHECK_INT(cpuset_parse_mask("000000ff,ffff00f0\n", &s, NULL), 0);
	list = list_of(&s);
	CHECK_STR(list, "4-7,16-39");
	CHECK_INT(cpuset_parse_mask("FF", &s, NULL), 0);
	CHECK_INT(cpuset_count(&s), 8);
	/* The last CPU hookd knows: 256 groups. */
	cpuset_clear(&top);
	CHECK_INT(cpuset_add(&top, CPUSET_MAX - 1), 0);
	CHECK_INT(cpuset_format_mask(&top, &high), 0);
	CHECK_INT(strlen(high), 8 + 255 * 9);
	CHECK_INT(cpuset_parse_mask(high, &s, NULL), 0);
	CHECK(cpuset_equal(&s, &top));

	s = parse("1", 0);
	CHECK_INT(cpuset_parse_mask("", &s, &why), -EINVAL);
	CHECK_INT(cpuset_parse_mask("ff,", &s, &why), -EINVAL);
	CHECK(strstr(why, "empty group"));
	CHECK_INT(cpuset_parse_mask("123456789", &s, &why), -EINVAL);
	CHECK(strstr(why, "8 hex digits"));
	CHECK_INT(cpuset_parse_mask("fg", &s, &why), -EINVAL);
	CHECK(strstr(why, "hex digit"));
	CHECK_INT(cpuset_parse_mask("0-3", &s, &why), -EINVAL);
	CHECK(cpuset_equal(&s, &(struct cpuset){ .words = { 2 } })); /* untouched */
}

/* systemd's AllowedCPUs over D-Bus: "ay", little-endian. */
static void test_bytes(void)
{
	struct cpuset s = parse("0,9-10,17", 0), back;
	_cleanup_free_ uint8_t *bytes = NULL;
	uint8_t *none = (uint8_t *)"x";
	size_t len = 99;
	const uint8_t beyond[CPUSET_MAX / 8 + 1] = { [CPUSET_MAX / 8] = 1 };
	const uint8_t zeros_beyond[CPUSET_MAX / 8 + 4] = { [0] = 0x0f };

	CHECK_INT(cpuset_to_bytes(&s, &bytes, &len), 0);
	CHECK_INT(len, 3);
	CHECK(bytes[0] == 0x01 && bytes[1] == 0x06 && bytes[2] == 0x02);
	CHECK_INT(cpuset_from_bytes(bytes, len, &back), 0);
	CHECK(cpuset_equal(&s, &back));
	cpuset_clear(&s);
	CHECK_INT(cpuset_to_bytes(&s, &none, &len), 0);
	CHECK(none == NULL && len == 0);
	CHECK_INT(cpuset_from_bytes(NULL, 0, &back), 0);
	CHECK(cpuset_is_empty(&back));
	CHECK_INT(cpuset_from_bytes(beyond, sizeof(beyond), &back), -ERANGE);
	CHECK_INT(cpuset_from_bytes(zeros_beyond, sizeof(zeros_beyond), &back), 0);
	CHECK_INT(cpuset_count(&back), 4);
}

static void test_online(void)
{
	struct fixture f, empty, missing;
	_cleanup_free_ char *list = NULL, *why = NULL;
	struct cpuset s, vm;

	fx_init(&f);
	fx_init(&empty);
	fx_init(&missing);
	fx_write(&f, "sys", "devices/system/cpu/online", "0-5");
	fx_write(&empty, "sys", "devices/system/cpu/online", "%s", "");
	CHECK_INT(cpuset_read_online(f.sys, &s), 0);
	list = list_of(&s);
	CHECK_STR(list, "0-5");
	CHECK_INT(cpuset_read_online(empty.sys, &s), -EINVAL);
	CHECK_INT(cpuset_read_online(missing.sys, &s), -ENOENT);

	vm = parse("2-3", 0);
	CHECK_INT(vm_cpus_check_online(&vm, &s, &why), 0);
	CHECK(!why);
	vm = parse("4-7", 0);
	CHECK_INT(vm_cpus_check_online(&vm, &s, &why), -EINVAL);
	CHECK_STR(why, "vm-cpus names CPUs 6-7, which are not online (online: 0-5)");
	fx_clear(&f);
	fx_clear(&empty);
	fx_clear(&missing);
}

#define DOMAIN(body) "<domain type='kvm'><name>win10</name>" body "</domain>"

static void check_pins(const char *xml, const char *want)
{
	struct cpuset s;
	_cleanup_free_ char *error = NULL, *list = NULL;

	CHECK_INT(domxml_pinned_cpus(xml, strlen(xml), &s, &error), 0);
	CHECK(!error);
	list = list_of(&s);
	CHECK_STR(list, want);
}

static void check_pins_refused(const char *xml, int r, const char *error_part)
{
	struct cpuset s = parse("1", 0), before = s;
	_cleanup_free_ char *error = NULL;

	CHECK_INT(domxml_pinned_cpus(xml, strlen(xml), &s, &error), r);
	CHECK(error && strstr(error, error_part) && !strchr(error, '\n'));
	CHECK(cpuset_equal(&s, &before));
}

static void test_domxml_pins(void)
{
	/* The seed's Ryzen 7 3700X: 8 vCPUs on cores 2-5 with their SMT siblings 10-13, the emulator on 0,8. */
	check_pins(DOMAIN("<vcpu placement='static'>8</vcpu><cputune>"
			  "<vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='10'/>"
			  "<vcpupin vcpu='2' cpuset='3'/><vcpupin vcpu='3' cpuset='11'/>"
			  "<vcpupin vcpu='4' cpuset='4'/><vcpupin vcpu='5' cpuset='12'/>"
			  "<vcpupin vcpu='6' cpuset='5'/><vcpupin vcpu='7' cpuset='13'/>"
			  "<emulatorpin cpuset='0,8'/></cputune>"),
		   "0,2-5,8,10-13");
	/* iothreads count too; libvirt's exclusions. */
	check_pins(DOMAIN("<vcpu>2</vcpu><iothreads>1</iothreads><cputune>"
			  "<vcpupin vcpu='0' cpuset='4-7,^5'/><vcpupin vcpu='1' cpuset='5'/>"
			  "<emulatorpin cpuset='1'/><iothreadpin iothread='1' cpuset='2'/></cputune>"),
		   "1-2,4-7");
	/* <vcpu cpuset> places the unpinned vCPU and the emulator. */
	check_pins(DOMAIN("<vcpu cpuset='6-7'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='3'/></cputune>"), "3,6-7");
	check_pins(DOMAIN("<vcpu cpuset='6-7'>2</vcpu>"), "6-7");
	/* Every vCPU and the emulator pinned: <vcpu cpuset> no longer applies. */
	check_pins(DOMAIN("<vcpu cpuset='6-7'>1</vcpu><cputune><vcpupin vcpu='0' cpuset='3'/>"
			  "<emulatorpin cpuset='2'/></cputune>"),
		   "2-3");
	/* An emulator without a pin floats; the vCPUs are still the VM's. */
	check_pins(DOMAIN("<vcpu>1</vcpu><cputune><vcpupin vcpu='0' cpuset='3'/></cputune>"), "3");

	check_pins_refused(DOMAIN("<vcpu>4</vcpu>"), -ENOENT, "does not pin vCPU 0");
	check_pins_refused(DOMAIN("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='3'/></cputune>"), -ENOENT,
			   "does not pin vCPU 1");
	check_pins_refused(DOMAIN("<vcpu>1</vcpu><cputune><vcpupin vcpu='0' cpuset='3-2'/></cputune>"), -EINVAL,
			   "<vcpupin> on line 1 has a bad cpuset: a range goes downwards");
	check_pins_refused(DOMAIN("<vcpu>1</vcpu><cputune><vcpupin vcpu='0'/></cputune>"), -EINVAL,
			   "bad cpuset: missing");
	check_pins_refused(DOMAIN("<vcpu>1</vcpu><cputune><vcpupin vcpu='1' cpuset='1'/></cputune>"), -EINVAL,
			   "names no vCPU");
	check_pins_refused(DOMAIN("<vcpu>1</vcpu><cputune><vcpupin vcpu='0' cpuset='1,^1'/></cputune>"), -ENOENT,
			   "to no host CPU");
	check_pins_refused(DOMAIN("<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>"), -EINVAL, "no <vcpu> count");
	check_pins_refused(DOMAIN("<vcpu>lots</vcpu>"), -EINVAL, "no <vcpu> count");
	check_pins_refused("<domain", -EINVAL, "does not parse");
	check_pins_refused("<network/>", -EINVAL, "does not parse as a <domain>");
}

static void test_vm_cpus(void)
{
	const char *xml = DOMAIN("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='2'/>"
				 "<vcpupin vcpu='1' cpuset='3'/><emulatorpin cpuset='0'/></cputune>");
	_cleanup_free_ char *norm = NULL, *auto_norm = NULL, *why = NULL, *list = NULL;
	const char *static_why = NULL;
	struct cpuset s;

	CHECK_INT(vm_cpus_normalize(" 5,2-3 4 ", &norm, &static_why), 0);
	CHECK_STR(norm, "2-5");
	CHECK_INT(vm_cpus_normalize("auto", &auto_norm, &static_why), 0);
	CHECK_STR(auto_norm, "auto");
	CHECK_INT(vm_cpus_normalize("", &norm, &static_why), -EINVAL);
	CHECK_STR(static_why, "no CPU given");
	CHECK_INT(vm_cpus_normalize("Auto", &norm, &static_why), -EINVAL);
	CHECK_INT(vm_cpus_normalize("0-3,^2", &norm, &static_why), -EINVAL); /* libvirt's syntax is the XML's */
	CHECK_STR(norm, "2-5");						     /* untouched */

	CHECK_INT(vm_cpus_resolve("auto", xml, strlen(xml), &s, &why), 0);
	list = list_of(&s);
	CHECK_STR(list, "0,2-3");
	free(list);
	CHECK_INT(vm_cpus_resolve("6-7", xml, strlen(xml), &s, &why), 0); /* a list wins over the XML */
	list = list_of(&s);
	CHECK_STR(list, "6-7");
	CHECK_INT(vm_cpus_resolve("auto", NULL, 0, &s, &why), -ENOENT);
	CHECK(strstr(why, "needs the domain XML"));
}

int main(void)
{
	RUN(test_list);
	RUN(test_operations);
	RUN(test_mask);
	RUN(test_bytes);
	RUN(test_online);
	RUN(test_domxml_pins);
	RUN(test_vm_cpus);
	return 0;
}
