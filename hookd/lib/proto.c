#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "proto.h"
#include "util.h"
#include "vmname.h"

static const char *const hook_op_names[_HOOK_OP_MAX] = {
	[HOOK_OP_PREPARE] = "prepare", [HOOK_OP_START] = "start",	  [HOOK_OP_STARTED] = "started",
	[HOOK_OP_STOPPED] = "stopped", [HOOK_OP_RELEASE] = "release",	  [HOOK_OP_MIGRATE] = "migrate",
	[HOOK_OP_RESTORE] = "restore", [HOOK_OP_RECONNECT] = "reconnect", [HOOK_OP_ATTACH] = "attach",
};

const char *hook_op_to_string(enum hook_op op)
{
	if ((unsigned)op >= _HOOK_OP_MAX)
		return NULL;
	return hook_op_names[op];
}

int hook_op_from_string(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < _HOOK_OP_MAX; i++)
		if (streq(s, hook_op_names[i]))
			return i;
	return -EINVAL;
}

bool hook_op_can_fail(enum hook_op op)
{
	/* libvirt ignores the exit status of stopped and release; attach is never sent since 5.5. */
	return op != HOOK_OP_STOPPED && op != HOOK_OP_RELEASE && op != HOOK_OP_ATTACH;
}

/* A short, printable field: op names, subops, error and method names. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* One line of 1..max bytes without control characters. */
static bool line_is_sane(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool field_is_sane(const char *s, size_t len)
{
	return line_is_sane(s, len, HOOKD_FIELD_MAX);
}

void proto_request_clear(struct proto_request *r)
{
	if (r->obj)
		json_object_put(r->obj);
	*r = (struct proto_request){ 0 };
}

static int parse_object(const char *buf, size_t len, json_object **ret, const char **why)
{
	json_tokener *tok;
	json_object *obj;

	if (len == 0 || len >= HOOKD_MSG_MAX) {
		*why = len == 0 ? "empty message" : "message too large";
		return -EBADMSG;
	}
	/* A NUL inside the declared length would silently cut the JSON short. */
	if (memchr(buf, '\0', len)) {
		*why = "NUL byte inside a message";
		return -EBADMSG;
	}
	tok = json_tokener_new_ex(32);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		if (obj)
			json_object_put(obj);
		*why = "not valid JSON";
		return -EBADMSG;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		*why = "message is not a JSON object";
		return -EBADMSG;
	}
	*ret = obj;
	return 0;
}

/* Borrowed string member, or NULL when absent. -EBADMSG when present but not a string. */
static int get_string(json_object *obj, const char *key, const char **ret, size_t *ret_len)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	*ret = json_object_get_string(v);
	/* JSON allows \u0000; a C string would silently end there, so such a field is refused. */
	if (strlen(*ret) != (size_t)json_object_get_string_len(v)) {
		*ret = NULL;
		return -EBADMSG;
	}
	if (ret_len)
		*ret_len = (size_t)json_object_get_string_len(v);
	return 0;
}

static int get_params(json_object *obj, json_object **ret)
{
	json_object *p;

	if (!json_object_object_get_ex(obj, "parameters", &p) || json_object_is_type(p, json_type_null)) {
		p = json_object_new_object();
		if (!p)
			return -ENOMEM;
		json_object_object_add(obj, "parameters", p);
	}
	if (!json_object_is_type(p, json_type_object))
		return -EBADMSG;
	*ret = p;
	return 0;
}

/* The envelope both directions share: one JSON object whose "parameters", if present, is an object (made
 * empty when absent). */
static int parse_envelope(const char *buf, size_t len, json_object **ret, json_object **ret_params, const char **why)
{
	json_object *obj = NULL;
	int r;

	r = parse_object(buf, len, &obj, why);
	if (r < 0)
		return r;
	r = get_params(obj, ret_params);
	if (r < 0) {
		json_object_put(obj);
		*why = "\"parameters\" is not an object";
		return r == -ENOMEM ? r : -EBADMSG;
	}
	*ret = obj;
	return 0;
}

int proto_parse_request(const char *buf, size_t len, struct proto_request *ret, const char **why)
{
	const char *dummy, *method = NULL;
	json_object *obj = NULL, *params;
	size_t mlen = 0;
	int r;

	if (!why)
		why = &dummy;
	r = parse_envelope(buf, len, &obj, &params, why);
	if (r < 0)
		return r;
	if (get_string(obj, "method", &method, &mlen) < 0 || !method || !field_is_sane(method, mlen)) {
		json_object_put(obj);
		*why = "missing or invalid \"method\"";
		return -EBADMSG;
	}
	*ret = (struct proto_request){ .obj = obj, .method = method, .params = params };
	return 0;
}

int proto_vm_from_params(json_object *params, const char **ret, const char **why)
{
	const char *vm;

	if (get_string(params, "vm", &vm, NULL) < 0 || !vm) {
		*why = "missing or invalid \"vm\"";
		return -EINVAL;
	}
	if (vm_name_validate(vm, why) < 0)
		return -EINVAL;
	*ret = vm;
	return 0;
}

int proto_event_from_params(json_object *params, struct proto_event *ret, const char **why)
{
	const char *dummy, *vm, *op, *subop, *extra, *xml;
	json_object *warnings = NULL;
	size_t len = 0, xml_len = 0;
	int op_id;

	if (!why)
		why = &dummy;
	if (proto_vm_from_params(params, &vm, why) < 0)
		return -EINVAL;
	if (get_string(params, "op", &op, NULL) < 0 || (op_id = hook_op_from_string(op)) < 0) {
		*why = "missing or unknown \"op\"";
		return -EINVAL;
	}
	if (get_string(params, "subop", &subop, &len) < 0 || !subop || !field_is_sane(subop, len)) {
		*why = "missing or invalid \"subop\"";
		return -EINVAL;
	}
	if (get_string(params, "extra", &extra, &len) < 0 || (extra && len > 0 && !field_is_sane(extra, len))) {
		*why = "invalid \"extra\"";
		return -EINVAL;
	}
	if (get_string(params, "xml", &xml, &xml_len) < 0) {
		*why = "\"xml\" is not a string without NUL characters";
		return -EINVAL;
	}
	if (xml_len > HOOKD_XML_MAX) {
		*why = "\"xml\" is larger than the limit";
		return -EINVAL;
	}
	if (json_object_object_get_ex(params, "warnings", &warnings) && warnings) {
		size_t n;

		if (!json_object_is_type(warnings, json_type_array) ||
		    (n = json_object_array_length(warnings)) > HOOKD_WARNINGS_MAX) {
			*why = "\"warnings\" is not an array of at most " STRINGIFY(HOOKD_WARNINGS_MAX) " lines";
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *w = json_object_array_get_idx(warnings, i);

			if (!json_object_is_type(w, json_type_string) ||
			    !line_is_sane(json_object_get_string(w), (size_t)json_object_get_string_len(w),
					  HOOKD_WARNING_MAX) ||
			    strlen(json_object_get_string(w)) != (size_t)json_object_get_string_len(w)) {
				*why = "\"warnings\" holds something other than one line of text";
				return -EINVAL;
			}
		}
	}
	*ret = (struct proto_event){
		.vm = vm,
		.op = (enum hook_op)op_id,
		.subop = subop,
		.extra = extra ? extra : "-",
		.xml = xml ? xml : "",
		.xml_len = xml ? xml_len : 0,
		.warnings = warnings,
	};
	return 0;
}

json_object *proto_build_request(const char *method, json_object *params)
{
	json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(params);
		return NULL;
	}
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "parameters", params ? params : json_object_new_object());
	return o;
}

json_object *proto_build_event_params(const char *vm, const char *op, const char *subop, const char *extra,
				      const char *xml, size_t xml_len)
{
	json_object *p = json_object_new_object();

	if (!p)
		return NULL;
	json_object_object_add(p, "vm", json_object_new_string(vm));
	json_object_object_add(p, "op", json_object_new_string(op));
	json_object_object_add(p, "subop", json_object_new_string(subop));
	json_object_object_add(p, "extra", json_object_new_string(extra ? extra : "-"));
	json_object_object_add(p, "xml", json_object_new_string_len(xml ? xml : "", xml ? (int)xml_len : 0));
	return p;
}

json_object *proto_build_reply(json_object *params)
{
	json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(params);
		return NULL;
	}
	json_object_object_add(o, "parameters", params ? params : json_object_new_object());
	return o;
}

json_object *proto_build_error(const char *error, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	json_object *o, *p;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	o = json_object_new_object();
	p = json_object_new_object();
	if (!o || !p) {
		json_object_put(o);
		json_object_put(p);
		return NULL;
	}
	json_object_object_add(p, "message", json_object_new_string(msg ? msg : error));
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "parameters", p);
	return o;
}

void proto_reply_clear(struct proto_reply *r)
{
	if (r->obj)
		json_object_put(r->obj);
	*r = (struct proto_reply){ 0 };
}

int proto_parse_reply(const char *buf, size_t len, struct proto_reply *ret, const char **why)
{
	const char *dummy, *error = NULL, *message = NULL;
	json_object *obj = NULL, *params;
	size_t elen = 0;
	int r;

	if (!why)
		why = &dummy;
	r = parse_envelope(buf, len, &obj, &params, why);
	if (r < 0)
		return r;
	if (get_string(obj, "error", &error, &elen) < 0 || (error && !field_is_sane(error, elen))) {
		json_object_put(obj);
		*why = "invalid \"error\"";
		return -EBADMSG;
	}
	if (error && get_string(params, "message", &message, NULL) < 0)
		message = NULL;
	*ret = (struct proto_reply){
		.obj = obj, .error = error, .message = error ? (message ? message : error) : NULL, .params = params
	};
	return 0;
}

int proto_reader_fill(struct proto_reader *r, int fd, bool *eof)
{
	size_t max = r->max && r->max < HOOKD_MSG_MAX ? r->max : HOOKD_MSG_MAX;
	ssize_t n;

	*eof = false;
	/* Drop what was handed out, so the buffer only holds unread bytes. */
	if (r->consumed > 0) {
		memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
		r->len -= r->consumed;
		r->consumed = 0;
	}
	if (r->len >= max)
		return -EMSGSIZE;
	if (r->cap - r->len < 4096) {
		size_t cap = r->cap ? r->cap * 2 : 16384;
		char *grown;

		if (cap > max)
			cap = max;
		grown = realloc(r->buf, cap);
		if (!grown)
			return -ENOMEM;
		r->buf = grown;
		r->cap = cap;
	}
	n = read(fd, r->buf + r->len, r->cap - r->len);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		*eof = true;
		return 0;
	}
	r->len += (size_t)n;
	/* A full buffer with no NUL in it can never become a valid message. */
	if (r->len >= max && !memchr(r->buf + r->consumed, '\0', r->len - r->consumed))
		return -EMSGSIZE;
	return 0;
}

int proto_reader_next(struct proto_reader *r, const char **msg, size_t *len)
{
	char *start = r->buf + r->consumed, *nul;

	if (r->len == r->consumed)
		return 0;
	nul = memchr(start, '\0', r->len - r->consumed);
	if (!nul)
		return 0;
	*msg = start;
	*len = (size_t)(nul - start);
	r->consumed += *len + 1;
	return 1;
}

bool proto_reader_has_message(const struct proto_reader *r)
{
	return r->len > r->consumed && memchr(r->buf + r->consumed, '\0', r->len - r->consumed);
}

bool proto_reader_partial(const struct proto_reader *r)
{
	return r->len > r->consumed;
}

void proto_reader_clear(struct proto_reader *r)
{
	free(r->buf);
	*r = (struct proto_reader){ 0 };
}

int proto_write(int fd, json_object *obj, unsigned long long deadline_ms)
{
	size_t len, off = 0;
	const char *s;

	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		return -ENOMEM;
	if (len + 1 > HOOKD_MSG_MAX)
		return -EMSGSIZE;
	/* Write the string and its terminating NUL (json-c's buffer has one) together. */
	len += 1;
	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ENOTSOCK)
			n = write(fd, s + off, len - off);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		{
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			long long wait = -1;

			if (deadline_ms) {
				wait = (long long)deadline_ms - (long long)monotonic_ms();
				if (wait <= 0)
					return -ETIMEDOUT;
			}
			if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
				return -errno;
		}
	}
	return 0;
}
