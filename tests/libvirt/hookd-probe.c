/* A test helper: ask hookd for one VM's status and print its last events, one per line, for shell tests:
 *   EVENT <op> <subop> <result> <xml_length> <uuid or ->
 * plus "CONFIGURED yes|no". usage: hookd-probe SOCKET VM. Exit 0, 1 if hookd answered with an error
 * (printed), 2 if it could not be reached. */
#include <stdio.h>

#include "client.h"
#include "proto.h"
#include "util.h"

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

int main(int argc, char **argv)
{
	struct proto_reply reply = { 0 };
	json_object *params, *vms, *vm, *events;
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET VM\n", argv[0]);
		return 2;
	}
	if (client_connect(argv[1], &fd) < 0) {
		fprintf(stderr, "hookd-probe: cannot connect to %s\n", argv[1]);
		return 2;
	}
	params = json_object_new_object();
	json_object_object_add(params, "vm", json_object_new_string(argv[2]));
	r = client_call(fd, HOOKD_METHOD_STATUS, params, 30000, &reply);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "hookd-probe: %s\n", strerror(-r));
		return 2;
	}
	if (reply.error) {
		printf("ERROR %s %s\n", reply.error, reply.message ? reply.message : "");
		return 1;
	}
	if (!json_object_object_get_ex(reply.params, "vms", &vms) || json_object_array_length(vms) != 1)
		return 1;
	vm = json_object_array_get_idx(vms, 0);
	printf("CONFIGURED %s\n", streq(str(vm, "configured"), "true") ? "yes" : "no");
	if (json_object_object_get_ex(vm, "last_events", &events))
		for (size_t i = 0; i < json_object_array_length(events); i++) {
			json_object *ev = json_object_array_get_idx(events, i);

			printf("EVENT %s %s %s %s %s\n", str(ev, "op"), str(ev, "subop"), str(ev, "result"),
			       str(ev, "xml_length"), str(ev, "uuid"));
		}
	proto_reply_clear(&reply);
	return 0;
}
