#include <stdio.h>

#include "output.h"

const char *color(const struct hookctl *ctx, enum color c)
{
	static const char *const codes[] = {
		[COLOR_RESET] = "\033[0m",   [COLOR_GREEN] = "\033[32m", [COLOR_RED] = "\033[31m",
		[COLOR_YELLOW] = "\033[33m", [COLOR_BOLD] = "\033[1m",	 [COLOR_DIM] = "\033[2m",
	};

	return ctx->color ? codes[c] : "";
}

void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *pci_class_name(unsigned class)
{
	static const struct {
		unsigned class16;
		const char *name;
	} names[] = {
		{ 0x0100, "SCSI" },   { 0x0101, "IDE" },    { 0x0104, "RAID" },	     { 0x0106, "SATA" },
		{ 0x0107, "SAS" },    { 0x0108, "NVMe" },   { 0x0200, "Ethernet" },  { 0x0280, "Network" },
		{ 0x0300, "VGA" },    { 0x0302, "3D" },	    { 0x0380, "Display" },   { 0x0401, "Audio" },
		{ 0x0403, "Audio" },  { 0x0480, "Media" },  { 0x0600, "Host br." },  { 0x0601, "ISA br." },
		{ 0x0604, "Bridge" }, { 0x0780, "Comm." },  { 0x0805, "SD host" },   { 0x0c03, "USB" },
		{ 0x0c05, "SMBus" },  { 0x0c80, "Serial" }, { 0x0d11, "Bluetooth" }, { 0x1180, "Signal" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].class16 == class >> 8)
			return names[i].name;
	return NULL;
}

const char *json_get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int json_get_int(json_object *o, const char *key, int def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int(v);
}

bool json_get_bool(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}
