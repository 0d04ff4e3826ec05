/* What hookd reads from a libvirt domain XML (through libxml2): the PCI devices it passes through, and the
 * domain's UUID. XML is LEN bytes, not necessarily NUL-terminated. */
#pragma once

#include <stddef.h>

/* Canonical addresses ("0000:0a:00.0") of every <hostdev mode='subsystem' type='pci'> source, in document
 * order, NULL-terminated (free with strv_free, strv.h). -EINVAL with *ret_error set (caller frees) when the XML does
 * not parse or an address is malformed. */
int domxml_pci_hostdevs(const char *xml, size_t len, char ***ret, char **ret_error);
/* The same for the <hostdev>s with managed='yes' only: the ones libvirt detaches from their host driver and
 * gives back itself (managed='no', libvirt's default, leaves that to hookd). */
int domxml_managed_pci_hostdevs(const char *xml, size_t len, char ***ret, char **ret_error);

/* Longest <uuid> text kept (a UUID is 36 characters; libvirt also accepts it without dashes or in braces). */
#define DOMXML_UUID_MAX 64
/* The text of the root <domain>'s <uuid> child (caller frees): it names the domain beyond its (renamable)
 * name. -EINVAL when the XML does not parse as a <domain>, -ENOENT when it has no <uuid> or one over
 * DOMXML_UUID_MAX characters, -ENOMEM. */
int domxml_uuid(const char *xml, size_t len, char **ret);

struct cpuset;
/* The host CPUs the domain's threads are pinned to: the union of <cputune>'s <vcpupin>, <emulatorpin> and
 * <iothreadpin> cpusets (libvirt's syntax, "1-4,^3,6"), with <vcpu cpuset='...'> standing in for a vCPU
 * without a <vcpupin> and for a missing <emulatorpin>, as libvirt applies it. -EINVAL with *ret_error (caller
 * frees) when the XML does not parse or a cpuset is malformed; -ENOENT with *ret_error when a vCPU is not
 * pinned at all (it would float over every host CPU) or nothing is pinned. */
int domxml_pinned_cpus(const char *xml, size_t len, struct cpuset *ret, char **ret_error);
