/* Fuzz the protocol decoder: whatever bytes arrive, parsing must not crash, leak or accept a bad field.
 * Built as a libFuzzer target with -Dfuzz=true (clang); otherwise tests/fuzz/replay.c replays the corpus
 * through it as a regression test. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proto_request req = { 0 };
	struct proto_reply rep = { 0 };
	const char *why = NULL;
	size_t off = 0;

	/* Split at NULs as the stream reader does, and decode every message as request and as reply. */
	while (off <= size) {
		const char *nul = memchr(buf + off, '\0', size - off);
		size_t len = nul ? (size_t)(nul - (buf + off)) : size - off;

		if (proto_parse_request(buf + off, len, &req, &why) == 0) {
			struct proto_event ev;
			const char *vm;

			if (proto_event_from_params(req.params, &ev, &why) == 0) {
				/* What validation let through must hold what it promises. */
				if (strchr(ev.vm, '/') || strlen(ev.xml) != ev.xml_len || ev.xml_len > HOOKD_XML_MAX)
					__builtin_trap();
			}
			if (proto_vm_from_params(req.params, &vm, &why) == 0 && (strchr(vm, '/') || !strcmp(vm, "..")))
				__builtin_trap();
			proto_request_clear(&req);
		}
		if (proto_parse_reply(buf + off, len, &rep, &why) == 0)
			proto_reply_clear(&rep);
		if (!nul)
			break;
		off += len + 1;
	}
	return 0;
}
