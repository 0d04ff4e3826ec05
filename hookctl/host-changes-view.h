/* The host changes of one VM as hookctl check and hookctl status show them (the "host_changes" arrays of
 * engine_check and engine_status, already checked by reply-decode.c when they came from hookd). One line
 * each; each kind has its label here, and only here. */
#pragma once

#include <json-c/json.h>

#include "hookctl.h"

enum host_changes_view {
	HOST_CHANGES_PLANNED, /* check: what prepare would change, with the value the host has now */
	HOST_CHANGES_HELD,    /* status: what is applied for the VM, the host's value, who shares it */
};

/* Print CHANGES (an array of objects; NULL or empty prints nothing) under a heading, indented by two. */
void host_changes_print(const struct hookctl *ctx, json_object *changes, enum host_changes_view view);
