/* Rendering one VM of hookctl status (text). */
#pragma once

#include <stdbool.h>
#include <json-c/json.h>

#include "hookctl.h"

/* True when the VM is in an error state or has a stuck device. */
bool status_vm_in_trouble(json_object *vm);
/* Print the VM's block on stdout. */
void status_print_vm(const struct hookctl *ctx, json_object *vm);
