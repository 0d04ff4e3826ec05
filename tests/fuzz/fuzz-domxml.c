/* libFuzzer target for the domain XML reader (hookd/lib/domxml.c, libxml2 underneath): the bytes are what
 * libvirt hands the hook on stdin. Besides crashes and sanitizer reports it checks what the engine relies
 * on: a success gives canonical PCI addresses only (each parses again to itself) and no error text; a
 * failure is -EINVAL with one line of error text (or -ENOMEM); pinned CPUs are a non-empty set or one line
 * saying why not; a UUID is never longer than DOMXML_UUID_MAX.
 * Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "cpuset.h"
#include "domxml.h"
#include "strv.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **hostdevs = NULL, *error = NULL, *uuid = NULL;
	struct cpuset cpus;
	int r;

	r = domxml_pci_hostdevs((const char *)data, size, &hostdevs, &error);
	if (r == 0) {
		REQUIRE(hostdevs && !error);
		for (char **a = hostdevs; *a; a++) {
			char again[13];

			REQUIRE(pci_address_canonical(*a, again) == 0 && streq(*a, again));
		}
	} else {
		REQUIRE(r == -EINVAL || r == -ENOMEM);
		REQUIRE(r == -ENOMEM || (error && *error && !strchr(error, '\n')));
	}
	strv_free(hostdevs);
	free(error);
	error = NULL;

	r = domxml_pinned_cpus((const char *)data, size, &cpus, &error);
	if (r == 0) {
		REQUIRE(!error && !cpuset_is_empty(&cpus));
	} else {
		REQUIRE(r == -EINVAL || r == -ENOENT || r == -ENOMEM);
		REQUIRE(r == -ENOMEM || (error && *error && !strchr(error, '\n')));
	}
	free(error);

	r = domxml_uuid((const char *)data, size, &uuid);
	REQUIRE(r == 0 || r == -EINVAL || r == -ENOENT || r == -ENOMEM);
	REQUIRE(r != 0 || (uuid && strlen(uuid) <= DOMXML_UUID_MAX));
	free(uuid);
	return 0;
}
