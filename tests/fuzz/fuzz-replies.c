/* libFuzzer target for hookctl's decoding of hookd's replies (hookctl/reply-decode.c): the bytes are one
 * message off the socket. What passes proto_parse_reply() and reply_decode_status() is rendered by the same
 * code as `hookctl status` (hookctl/status-view.c, output to /dev/null); what passes reply_decode_check()
 * is walked as `hookctl check` walks it. A crash or a json-c assertion in either is a decoder that let a bad
 * type through. Without -DFUZZING, tests/fuzz/replay.c runs the corpus through it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "output.h"
#include "proto.h"
#include "reply-decode.h"
#include "status-view.h"

static void walk_check(json_object *result)
{
	json_object *plan = NULL, *list;

	(void)json_get_bool(result, "ok");
	(void)json_get_str(result, "vm");
	if (json_object_object_get_ex(result, "problems", &list) && list)
		for (size_t i = 0; i < json_object_array_length(list); i++)
			(void)json_object_get_string(json_object_array_get_idx(list, i));
	if (!json_object_object_get_ex(result, "plan", &plan) || !plan)
		return;
	if (json_object_object_get_ex(plan, "modules", &list) && list)
		for (size_t i = 0; i < json_object_array_length(list); i++)
			(void)json_get_str(json_object_array_get_idx(list, i), "name");
	if (json_object_object_get_ex(plan, "vtconsoles", &list) && list)
		for (size_t i = 0; i < json_object_array_length(list); i++)
			(void)json_object_get_string(json_object_array_get_idx(list, i));
	if (json_object_object_get_ex(plan, "devices", &list) && list)
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *d = json_object_array_get_idx(list, i);

			(void)json_get_str(d, "address");
			(void)json_get_int(d, "iommu_group", -1);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	struct hookctl ctx = { .color = true };
	struct proto_reply reply = { 0 };
	json_object *vms, *result;
	char *why = NULL;

	/* status_print_vm writes to stdout; the fuzzer's own output goes to stderr. */
	if (!null)
		null = freopen("/dev/null", "w", stdout);
	if (proto_parse_reply((const char *)data, size, &reply, NULL) < 0)
		return 0;
	if (!reply.error && reply_decode_status(reply.params, &why) == 0) {
		json_object_object_get_ex(reply.params, "vms", &vms);
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			json_object *vm = json_object_array_get_idx(vms, i);

			(void)status_vm_in_trouble(vm);
			status_print_vm(&ctx, vm);
		}
	}
	free(why);
	why = NULL;
	if (!reply.error && reply_decode_check(reply.params, &result, &why) == 0)
		walk_check(result);
	free(why);
	why = NULL;
	if (reply.error && reply_decode_reload_error(reply.params, &why) == 0 &&
	    json_object_object_get_ex(reply.params, "problems", &vms) && vms)
		for (size_t i = 0; i < json_object_array_length(vms); i++)
			(void)json_object_get_string(json_object_array_get_idx(vms, i));
	free(why);
	proto_reply_clear(&reply);
	return 0;
}
