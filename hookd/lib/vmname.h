/* What a libvirt domain name may be before hookd uses it as a file name or a key. */
#pragma once

#include <stdbool.h>

/* Longer names are refused: a file name component must fit, with ".ini" and ".state" appended. */
#define HOOKD_VM_NAME_MAX 200

/* 0 if NAME is usable, else -EINVAL; *why (static string) says what is wrong. A name that is not usable
 * cannot have a configuration file, so it names a VM hookd does not manage: the hook leaves such a VM alone
 * (exit 0) rather than refusing it. */
int vm_name_validate(const char *name, const char **why);
