/* Which configured VM claims which PCI function: each VM's device set resolved against the topology by the
 * engine's own plan_resolve (addresses, matches, whole-group), so hookctl and hookd cannot disagree. A
 * devices-from-xml VM adds the <hostdev> devices of its domain XML, asked from libvirt read-only; when libvirt
 * has none, only its [device.*] sections are claimed and that is not a configuration problem. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "diag.h"
#include "hookctl.h"
#include "topology.h"

struct claim {
	char address[13];
	const char *vm; /* borrowed from claims.cfg */
	char *device;	/* the plan's device name: "gpu", "gpu+group" */
};

struct claims {
	struct hookd_config *cfg; /* NULL when the configuration does not load */
	struct claim *items;
	size_t n;
	struct diag problems; /* configuration and resolution problems, one line each */
	char **xml_sources;   /* per cfg->vms[i]: NULL unless devices-from-xml; "libvirt" when its domain
				    * XML was read, else why not ("libvirt has no domain 'win10'") */
};

/* Never fails for a bad configuration (its problems are collected); -ENOMEM only. */
int claims_load(const struct hookctl *ctx, const struct topology *t, struct claims *ret);
void claims_clear(struct claims *c);
/* For a devices-from-xml VM: "libvirt" or why its XML is unknown; NULL for other VMs. Borrowed. */
const char *claims_xml_source(const struct claims *c, const char *vm);
/* The i-th claim on ADDRESS (i counts from 0), or NULL. */
const struct claim *claims_find(const struct claims *c, const char *address, size_t i);
