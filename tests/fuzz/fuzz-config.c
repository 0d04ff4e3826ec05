/* libFuzzer harness for the configuration parsers: one input is parsed as a per-VM INI file, as hookd.conf and
 * (when short) as a PCI address. Besides crashes and sanitizer reports it checks what every caller relies on:
 *   - a parse either succeeds with no message, or fails with -EINVAL and at least one message, all of them
 *     "label:line: ..." or "label: ..."; never an "internal error" (inih and our line tracking disagreeing);
 *   - an accepted VM file is consistent: each device has exactly one of address / match, addresses are
 *     canonical, module names valid, reset methods normalized; an accepted hookd.conf has ordered timeouts;
 *   - an accepted VM file survives being written back as INI and parsed again.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it (a regression test in every build). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "util.h"

static void check_messages(const struct diag *d, const char *label)
{
	for (size_t i = 0; i < d->n; i++) {
		const char *rest = d->lines[i] + strlen(label);

		REQUIRE(startswith(d->lines[i], label));
		REQUIRE(rest[0] == ':');
		/* The whole message, not a substring: user text is quoted in messages and may say anything. */
		rest += 1 + strspn(rest + 1, "0123456789");
		REQUIRE(!streq(rest, ": internal error: inih and hookd disagree about this line"));
	}
}

static bool module_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static char *emit_vm(const struct vm_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	REQUIRE(f);
	fprintf(f, "[vm]\nrelease-console = %d\ndevices-from-xml = %d\nwhole-group = %d\nunload-modules =",
		c->release_console, c->devices_from_xml, c->whole_group);
	for (size_t i = 0; i < c->n_unload_modules; i++)
		fprintf(f, "\n  %s", c->unload_modules[i]);
	fputc('\n', f);
	if (c->vm_cpus)
		fprintf(f, "vm-cpus = %s\n", c->vm_cpus);
	fprintf(f, "isolate-cpus = %d\nsteer-irqs = %d\n", c->isolate_cpus, c->steer_irqs);
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct vm_device_config *d = &c->devices[i];

		fprintf(f, "[device.%s]\n", d->name);
		if (d->address)
			fprintf(f, "address = %s\n", d->address);
		else
			fprintf(f, "match = %04x:%04x\nmatch-many = %d\n", d->vendor, d->device, d->match_many);
		fprintf(f, "whole-group = %d\n", d->whole_group);
		if (d->reset_method)
			fprintf(f, "reset-method = %s\n", d->reset_method);
	}
	REQUIRE(fclose(f) == 0);
	return buf;
}

static void check_vm(const struct vm_config *c)
{
	REQUIRE(c->n_devices > 0 || c->devices_from_xml);
	REQUIRE(!c->vm_cpus || streq(c->vm_cpus, "auto") || (*c->vm_cpus >= '0' && *c->vm_cpus <= '9'));
	for (size_t i = 0; i < c->n_unload_modules; i++) {
		const char *m = c->unload_modules[i];

		REQUIRE(*m);
		for (; *m; m++)
			REQUIRE(module_char(*m));
	}
	for (size_t i = 0; i < c->n_devices; i++) {
		const struct vm_device_config *d = &c->devices[i];
		char canonical[13];

		REQUIRE(d->name && *d->name && d->line > 0);
		REQUIRE(!d->address != !d->has_match);
		REQUIRE(!d->match_many || d->has_match);
		if (d->address) {
			REQUIRE(pci_address_canonical(d->address, canonical) == 0);
			REQUIRE(streq(canonical, d->address));
		}
		if (d->reset_method)
			REQUIRE(*d->reset_method && !strstr(d->reset_method, "  ") && d->reset_method[0] != ' ');
		for (size_t j = 0; j < i; j++)
			REQUIRE(!streq(d->name, c->devices[j].name));
	}
}

static void check_same_vm(const struct vm_config *a, const struct vm_config *b)
{
	REQUIRE(a->release_console == b->release_console && a->devices_from_xml == b->devices_from_xml);
	REQUIRE(a->n_unload_modules == b->n_unload_modules && a->n_devices == b->n_devices);
	REQUIRE(streq_ptr(a->vm_cpus, b->vm_cpus) && a->isolate_cpus == b->isolate_cpus &&
		a->steer_irqs == b->steer_irqs);
	for (size_t i = 0; i < a->n_unload_modules; i++)
		REQUIRE(streq(a->unload_modules[i], b->unload_modules[i]));
	for (size_t i = 0; i < a->n_devices; i++) {
		const struct vm_device_config *x = &a->devices[i], *y = &b->devices[i];

		REQUIRE(streq(x->name, y->name) && streq_ptr(x->address, y->address));
		REQUIRE(x->has_match == y->has_match && x->vendor == y->vendor && x->device == y->device);
		REQUIRE(x->match_many == y->match_many && x->whole_group == y->whole_group);
		REQUIRE(streq_ptr(x->reset_method, y->reset_method));
	}
}

static void fuzz_vm(const char *text)
{
	struct diag d = { 0 }, d2 = { 0 };
	struct vm_config *c = NULL, *again = NULL;
	_cleanup_free_ char *written = NULL;
	int r = vm_config_parse_string("fuzz", text, "fuzz.ini", &c, &d);

	REQUIRE(r == 0 || r == -EINVAL || r == -ENOMEM);
	check_messages(&d, "fuzz.ini");
	if (r == 0) {
		REQUIRE(c && d.n == 0);
		check_vm(c);
		written = emit_vm(c);
		REQUIRE(vm_config_parse_string("fuzz", written, "again.ini", &again, &d2) == 0);
		check_same_vm(c, again);
	} else {
		REQUIRE(!c);
		REQUIRE(r == -ENOMEM || d.n > 0);
	}
	vm_config_free(c);
	vm_config_free(again);
	diag_clear(&d);
	diag_clear(&d2);
}

static void fuzz_global(const char *text)
{
	struct diag d = { 0 };
	struct hookd_config *c = NULL;
	int r = hookd_config_parse_global_string(text, "hookd.conf", &c, &d);

	REQUIRE(r == 0 || r == -EINVAL || r == -ENOMEM);
	check_messages(&d, "hookd.conf");
	if (r == 0) {
		REQUIRE(c && d.n == 0 && c->n_vms == 0);
		REQUIRE(c->sysfs_timeout_ms > 0 && c->sysfs_timeout_ms <= c->operation_timeout_ms);
		REQUIRE(c->hook_timeout_ms > c->operation_timeout_ms);
	} else {
		REQUIRE(!c && (r == -ENOMEM || d.n > 0));
	}
	hookd_config_free(c);
	diag_clear(&d);
}

static void fuzz_address(const char *text)
{
	char out[13], again[13];

	if (pci_address_canonical(text, out) == 0) {
		REQUIRE(strlen(out) == 12);
		REQUIRE(pci_address_canonical(out, again) == 0 && streq(out, again));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = NULL;

	/* The loaders refuse larger files before parsing; a NUL ends the text as it would a C string. */
	if (size > HOOKD_VM_CONFIG_MAX)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	fuzz_vm(text);
	fuzz_global(text);
	if (size < 32)
		fuzz_address(text);
	return 0;
}
