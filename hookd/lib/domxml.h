/* What hookd reads from a libvirt domain XML: the PCI devices it passes through. */
#pragma once

#include <stddef.h>

/* Canonical addresses ("0000:0a:00.0") of every <hostdev mode='subsystem' type='pci'> source, in document
 * order, NULL-terminated (free with strv_free). -EINVAL with *ret_error set (caller frees) when the XML does
 * not parse or an address is malformed. */
int domxml_pci_hostdevs(const char *xml, size_t len, char ***ret, char **ret_error);
