/* The one place where hookctl checks what hookd (or the engine) answered before anything reads it: every
 * field hookctl uses is given a type here, and a reply that does not have it is refused as a whole with one
 * line naming the field ("vms[1].engine.devices: not an array"). After a successful decode the readers in
 * status.c, status-view.c and check.c may take those fields' types for granted. Fields hookctl does not
 * read are not checked (newer daemons may add some). */
#pragma once

#include <json-c/json.h>

/* io.hookd.Status's parameters: {version?, protocol?, vms: [{name, configured?, last_events?, engine?}]}.
 * 0, or -EBADMSG with *ret_why (caller frees), or -ENOMEM. */
int reply_decode_status(json_object *params, char **ret_why);

/* A check result, from engine_check or inside io.hookd.Check's reply: {vm, ok, problems?, plan?}. */
int reply_decode_check_result(json_object *result, char **ret_why);

/* The parameters of io.hookd.Reload's error reply: {message, problems?: [str]}. */
int reply_decode_reload_error(json_object *params, char **ret_why);

/* io.hookd.Check's parameters: {plan: RESULT}. *ret_result is borrowed from params. */
int reply_decode_check(json_object *params, json_object **ret_result, char **ret_why);
