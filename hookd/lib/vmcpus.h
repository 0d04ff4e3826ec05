/* The VM's host CPUs, as its file's `vm-cpus` key names them: "auto" (the pins of the domain XML's <cputune>,
 * domxml_pinned_cpus()) or a CPU list. CPU isolation, the governor and interrupt steering all act on this
 * one set, resolved here so that they cannot disagree. */
#pragma once

#include <stddef.h>

#include "cpuset.h"

#define VM_CPUS_AUTO "auto"

/* A vm-cpus value as written in the file -> "auto" or the canonical non-empty CPU list (caller frees).
 * -EINVAL with *ret_why (static) for anything else; -ENOMEM. */
int vm_cpus_normalize(const char *value, char **ret, const char **ret_why);

/* SETTING (a normalized vm-cpus value; NULL, the key not set, is "auto") as a set: a list as it is, "auto" from XML (LEN bytes; NULL when the
 * caller has no domain XML, which fails with -ENOENT). -EINVAL / -ENOENT with *ret_why (caller frees) as
 * domxml_pinned_cpus(); -ENOMEM. */
int vm_cpus_resolve(const char *setting, const char *xml, size_t len, struct cpuset *ret, char **ret_why);

/* 0 when every CPU of VM_CPUS is in ONLINE; else -EINVAL with *ret_why (caller frees) naming the CPUs the
 * host does not have online ("vm-cpus names CPUs 6-7, which are not online (online: 0-5)"); -ENOMEM. */
int vm_cpus_check_online(const struct cpuset *vm_cpus, const struct cpuset *online, char **ret_why);
