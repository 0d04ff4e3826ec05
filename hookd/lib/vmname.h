/* What a libvirt domain name may be before hookd uses it as a file name or a key. */
#pragma once

#include <stdbool.h>

/* Longer names are refused: a file name component must fit, with ".ini" and ".state" appended. */
#define HOOKD_VM_NAME_MAX 200

/* 0 if NAME is usable, else -EINVAL; *why (static string) says what is wrong. */
int vm_name_validate(const char *name, const char **why);
