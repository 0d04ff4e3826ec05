/* Shapes of the replies hookctl reads, and one validator for all of them. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reply-decode.h"
#include "util.h"

enum kind { KIND_STRING, KIND_INT, KIND_BOOL, KIND_OBJECT, KIND_ARRAY };

struct shape {
	const char *key; /* NULL ends a list of fields */
	enum kind kind;
	bool required;		    /* else it may be absent or null */
	enum kind element;	    /* KIND_ARRAY: the kind of every element (never null) */
	const struct shape *fields; /* KIND_OBJECT, or an array of objects: the fields of each */
};

/* Designated initializers: the table reads as a schema. */
#define OPTIONAL(k, kd)                  \
	{                                \
		.key = (k), .kind = (kd) \
	}
#define REQUIRED(k, kd)                                    \
	{                                                  \
		.key = (k), .kind = (kd), .required = true \
	}
#define OBJECT(k, f)                                           \
	{                                                      \
		.key = (k), .kind = KIND_OBJECT, .fields = (f) \
	}
#define REQUIRED_OBJECT(k, f)                                                    \
	{                                                                        \
		.key = (k), .kind = KIND_OBJECT, .required = true, .fields = (f) \
	}
#define ARRAY(k, el, f)                                                        \
	{                                                                      \
		.key = (k), .kind = KIND_ARRAY, .element = (el), .fields = (f) \
	}
#define REQUIRED_ARRAY(k, el, f)                                                                 \
	{                                                                                        \
		.key = (k), .kind = KIND_ARRAY, .required = true, .element = (el), .fields = (f) \
	}
#define END                 \
	{                   \
		.key = NULL \
	}

static const struct shape device_fields[] = { REQUIRED("address", KIND_STRING),
					      REQUIRED("name", KIND_STRING),
					      OPTIONAL("driver", KIND_STRING),
					      OPTIONAL("original_driver", KIND_STRING),
					      OPTIONAL("iommu_group", KIND_INT),
					      OPTIONAL("state", KIND_STRING),
					      ARRAY("holders", KIND_STRING, NULL),
					      OPTIONAL("holders_error", KIND_STRING),
					      END };

/* engine_status's and engine_check's host changes (host-changes-view.c reads them). */
static const struct shape host_change_fields[] = {
	REQUIRED("kind", KIND_STRING),	 REQUIRED("target", KIND_STRING),	  OPTIONAL("wanted", KIND_STRING),
	OPTIONAL("before", KIND_STRING), OPTIONAL("applied", KIND_STRING),	  OPTIONAL("now", KIND_STRING),
	OPTIONAL("step", KIND_STRING),	 ARRAY("shared_with", KIND_STRING, NULL), END
};

static const struct shape engine_fields[] = { OPTIONAL("state", KIND_STRING), OPTIONAL("error", KIND_STRING),
					      ARRAY("devices", KIND_OBJECT, device_fields),
					      ARRAY("host_changes", KIND_OBJECT, host_change_fields), END };

static const struct shape event_fields[] = { REQUIRED("op", KIND_STRING),     REQUIRED("subop", KIND_STRING),
					     REQUIRED("result", KIND_STRING), OPTIONAL("message", KIND_STRING),
					     OPTIONAL("time_usec", KIND_INT), END };

static const struct shape status_vm_fields[] = {
	REQUIRED("name", KIND_STRING), OPTIONAL("configured", KIND_BOOL),
	ARRAY("last_events", KIND_OBJECT, event_fields), ARRAY("legacy_warnings", KIND_STRING, NULL),
	OBJECT("engine", engine_fields),
	/* hookctl status replaces it, but the view reads it: checked all the same */
	ARRAY("devices", KIND_OBJECT, device_fields), END
};

static const struct shape status_fields[] = { OPTIONAL("version", KIND_STRING), OPTIONAL("protocol", KIND_INT),
					      REQUIRED_ARRAY("vms", KIND_OBJECT, status_vm_fields), END };

static const struct shape module_fields[] = { REQUIRED("name", KIND_STRING), END };

static const struct shape plan_device_fields[] = { REQUIRED("address", KIND_STRING),
						   REQUIRED("name", KIND_STRING),
						   OPTIONAL("original_driver", KIND_STRING),
						   OPTIONAL("reset_method", KIND_STRING),
						   OPTIONAL("iommu_group", KIND_INT),
						   OPTIONAL("boot_vga", KIND_BOOL),
						   END };

static const struct shape plan_fields[] = { ARRAY("modules", KIND_OBJECT, module_fields),
					    OPTIONAL("release_console", KIND_BOOL),
					    ARRAY("vtconsoles", KIND_STRING, NULL),
					    ARRAY("firmware_framebuffers", KIND_STRING, NULL),
					    ARRAY("devices", KIND_OBJECT, plan_device_fields),
					    END };

static const struct shape check_result_fields[] = {
	REQUIRED("vm", KIND_STRING),	      REQUIRED("ok", KIND_BOOL),
	ARRAY("problems", KIND_STRING, NULL), ARRAY("warnings", KIND_STRING, NULL),
	ARRAY("holders", KIND_STRING, NULL),  ARRAY("host_changes", KIND_OBJECT, host_change_fields),
	OBJECT("plan", plan_fields),	      END
};

static const char *kind_name(enum kind k)
{
	switch (k) {
	case KIND_STRING:
		return "a string";
	case KIND_INT:
		return "an integer";
	case KIND_BOOL:
		return "true or false";
	case KIND_OBJECT:
		return "an object";
	case KIND_ARRAY:
		return "an array";
	}
	return "?";
}

static bool has_kind(json_object *v, enum kind k)
{
	switch (k) {
	case KIND_STRING:
		/* A C reader would stop at an embedded NUL ("\u0000"): such a string is refused. */
		return json_object_is_type(v, json_type_string) &&
		       strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
	case KIND_INT:
		return json_object_is_type(v, json_type_int);
	case KIND_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case KIND_OBJECT:
		return json_object_is_type(v, json_type_object);
	case KIND_ARRAY:
		return json_object_is_type(v, json_type_array);
	}
	return false;
}

static int fail(char **ret_why, const char *path, const char *what)
{
	if (asprintf(ret_why, "%s: %s", *path ? path : "parameters", what) < 0)
		return -ENOMEM;
	return -EBADMSG;
}

static int check_object(json_object *o, const struct shape *fields, const char *path, char **ret_why);

static int check_value(json_object *v, enum kind kind, enum kind element, const struct shape *fields, const char *path,
		       char **ret_why)
{
	_cleanup_free_ char *what = NULL;
	int r;

	if (!has_kind(v, kind)) {
		if (asprintf(&what, "not %s", kind_name(kind)) < 0)
			return -ENOMEM;
		return fail(ret_why, path, what);
	}
	if (kind == KIND_OBJECT)
		return check_object(v, fields, path, ret_why);
	if (kind != KIND_ARRAY)
		return 0;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		_cleanup_free_ char *item = NULL;

		if (asprintf(&item, "%s[%zu]", path, i) < 0)
			return -ENOMEM;
		r = check_value(json_object_array_get_idx(v, i), element, 0, fields, item, ret_why);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_object(json_object *o, const struct shape *fields, const char *path, char **ret_why)
{
	for (const struct shape *f = fields; f && f->key; f++) {
		_cleanup_free_ char *sub = NULL;
		json_object *v = NULL;
		int r;

		if (asprintf(&sub, "%s%s%s", path, *path ? "." : "", f->key) < 0)
			return -ENOMEM;
		if (!json_object_object_get_ex(o, f->key, &v) || !v) {
			if (f->required)
				return fail(ret_why, sub, "missing");
			continue;
		}
		r = check_value(v, f->kind, f->element, f->fields, sub, ret_why);
		if (r < 0)
			return r;
	}
	return 0;
}

static int decode(json_object *o, const struct shape *fields, char **ret_why)
{
	*ret_why = NULL;
	return check_value(o, KIND_OBJECT, 0, fields, "", ret_why);
}

int reply_decode_status(json_object *params, char **ret_why)
{
	return decode(params, status_fields, ret_why);
}

int reply_decode_check_result(json_object *result, char **ret_why)
{
	return decode(result, check_result_fields, ret_why);
}

int reply_decode_reload_error(json_object *params, char **ret_why)
{
	static const struct shape fields[] = { ARRAY("problems", KIND_STRING, NULL), END };

	return decode(params, fields, ret_why);
}

int reply_decode_check(json_object *params, json_object **ret_result, char **ret_why)
{
	static const struct shape fields[] = { REQUIRED_OBJECT("plan", check_result_fields), END };
	int r;

	r = decode(params, fields, ret_why);
	if (r < 0)
		return r;
	json_object_object_get_ex(params, "plan", ret_result);
	return 0;
}
