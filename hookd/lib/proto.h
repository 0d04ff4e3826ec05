/* The wire protocol between the hook, hookctl and hookd: the whole of it is in this header.
 *
 * Transport: a SOCK_STREAM unix socket. Framing and shape follow varlink so any varlink client can talk
 * to hookd: each message is one JSON object terminated by a NUL byte.
 *   request: {"method": "io.hookd.Event", "parameters": {...}}
 *   reply:   {"parameters": {...}}                               success
 *            {"error": "io.hookd.Refused", "parameters": {"message": "..."}}
 * One request, one reply, in order; a client may send several requests on one connection.
 * A message over HOOKD_MSG_MAX bytes, one that is not a JSON object, or a connection that ends inside a
 * message is a protocol error: the server closes that connection (it answers what it can first). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#define HOOKD_PROTO_VERSION 1

/* Largest message, NUL included. The domain XML is the only big field. */
#define HOOKD_MSG_MAX (4u * 1024u * 1024u)
#define HOOKD_XML_MAX (2u * 1024u * 1024u)
#define HOOKD_FIELD_MAX 256u /* op, subop, extra, method and error names */
/* io.hookd.Event's optional "warnings": what the hook found wrong next to the event (legacy scripts that
 * will not run), one line each, for hookd's log and status. */
#define HOOKD_WARNINGS_MAX 32
#define HOOKD_WARNING_MAX 1024u

/* Methods. Event/Prepare/Release/Reload need uid 0; Status and Check are open to the socket's group. */
#define HOOKD_METHOD_EVENT "io.hookd.Event"	/* {vm, op, subop, extra, xml, warnings?} -> {} */
#define HOOKD_METHOD_STATUS "io.hookd.Status"	/* {vm?} -> {version, protocol, vms: [...]} */
#define HOOKD_METHOD_PREPARE "io.hookd.Prepare" /* {vm} -> {} (hookctl prepare: by hand, for recovery) */
#define HOOKD_METHOD_RELEASE "io.hookd.Release" /* {vm} -> {} */
#define HOOKD_METHOD_RELOAD "io.hookd.Reload"	/* {} -> {} */
#define HOOKD_METHOD_CHECK "io.hookd.Check"	/* {vm} -> {plan: ...} (dry run) */

/* Errors. parameters.message is always one line a person can act on. */
#define HOOKD_ERROR_REFUSED "io.hookd.Refused" /* prepare refused before changing anything */
#define HOOKD_ERROR_FAILED "io.hookd.Failed"   /* an operation failed (rolled back) */
#define HOOKD_ERROR_PERMISSION "io.hookd.PermissionDenied"
#define HOOKD_ERROR_INVALID "io.hookd.InvalidParameter" /* parameters.parameter names the field */
#define HOOKD_ERROR_NO_SUCH_VM "io.hookd.NoSuchVM"
#define HOOKD_ERROR_PROTOCOL "io.hookd.ProtocolError"
#define HOOKD_ERROR_METHOD "org.varlink.service.MethodNotFound"

/* libvirt's qemu hook ops hookd knows. Anything else is refused as invalid. */
enum hook_op {
	HOOK_OP_PREPARE,
	HOOK_OP_START,
	HOOK_OP_STARTED,
	HOOK_OP_STOPPED,
	HOOK_OP_RELEASE,
	HOOK_OP_MIGRATE,
	HOOK_OP_RESTORE,
	HOOK_OP_RECONNECT,
	HOOK_OP_ATTACH,
	_HOOK_OP_MAX,
};

const char *hook_op_to_string(enum hook_op op);
int hook_op_from_string(const char *s); /* enum hook_op or -EINVAL */
/* True for the ops whose failure libvirt acts on (prepare, start, started, migrate, restore, reconnect). */
bool hook_op_can_fail(enum hook_op op);

/* A decoded, validated io.hookd.Event. Strings point into the json object the request owns. */
struct proto_event {
	const char *vm;
	enum hook_op op;
	const char *subop;
	const char *extra;
	const char *xml; /* may be "" */
	size_t xml_len;
	json_object *warnings; /* borrowed: an array of up to HOOKD_WARNINGS_MAX one-line strings, or NULL */
};

/* A decoded request. Owns obj. */
struct proto_request {
	json_object *obj;
	const char *method;
	json_object *params; /* borrowed from obj; an empty object when absent */
};
void proto_request_clear(struct proto_request *r);

/* Parse one NUL-terminated message (len excludes the NUL). -EBADMSG with *why on anything malformed. */
int proto_parse_request(const char *buf, size_t len, struct proto_request *ret, const char **why);
/* Validate the parameters of io.hookd.Event. -EINVAL with *why naming the field at fault. */
int proto_event_from_params(json_object *params, struct proto_event *ret, const char **why);
/* Fetch a required VM name parameter ("vm"), validated with vm_name_validate(). */
int proto_vm_from_params(json_object *params, const char **ret, const char **why);

/* Builders (the caller owns what is returned). */
json_object *proto_build_request(const char *method, json_object *params /* taken */);
json_object *proto_build_event_params(const char *vm, const char *op, const char *subop, const char *extra,
				      const char *xml, size_t xml_len);
json_object *proto_build_reply(json_object *params /* taken, may be NULL */);
json_object *proto_build_error(const char *error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A parsed reply: error is NULL on success. Owns obj. */
struct proto_reply {
	json_object *obj;
	const char *error;
	const char *message; /* parameters.message when error is set, else NULL */
	json_object *params;
};
void proto_reply_clear(struct proto_reply *r);
int proto_parse_reply(const char *buf, size_t len, struct proto_reply *ret, const char **why);

/* Incremental reader for the NUL framing, for non-blocking sockets. */
struct proto_reader {
	char *buf;
	size_t len;
	size_t cap;
	size_t consumed; /* bytes of buf already handed out */
	size_t max;	 /* largest message, NUL included; 0: HOOKD_MSG_MAX (a smaller bound for untrusted peers) */
};
/* Read what the fd has. 0 on progress, -EAGAIN if nothing now, 0 with *eof on orderly EOF, -EMSGSIZE when a
 * message would exceed the reader's max, other -errno on error. */
int proto_reader_fill(struct proto_reader *r, int fd, bool *eof);
/* Next complete message: 1 with msg and len set (len excludes the NUL; valid until the next fill), or 0. */
int proto_reader_next(struct proto_reader *r, const char **msg, size_t *len);
/* True when a complete message is buffered (proto_reader_next would return 1). */
bool proto_reader_has_message(const struct proto_reader *r);
/* True when bytes of an unfinished message are buffered (EOF now means a truncated message). */
bool proto_reader_partial(const struct proto_reader *r);
void proto_reader_clear(struct proto_reader *r);

/* Serialize obj and write it with the NUL, all of it (blocking fd, or poll until deadline_ms, monotonic
 * milliseconds; 0 = no deadline). */
int proto_write(int fd, json_object *obj, unsigned long long deadline_ms);
