/* Output helpers: colours only on a terminal (and never with NO_COLOR or --no-color), JSON printed one way,
 * readable names for PCI classes. */
#pragma once

#include <json-c/json.h>

#include "hookctl.h"

enum color { COLOR_RESET, COLOR_GREEN, COLOR_RED, COLOR_YELLOW, COLOR_BOLD, COLOR_DIM };

/* The escape sequence, or "" when colours are off. */
const char *color(const struct hookctl *ctx, enum color c);

/* Pretty-printed, stable key order (insertion order), a newline at the end. */
void print_json(json_object *o);

/* "VGA", "Audio", "NVMe", ... for the 24-bit class code; NULL for classes without a short name. */
const char *pci_class_name(unsigned class);

/* Borrowed strings from a JSON object; NULL when absent or not a string. */
const char *json_get_str(json_object *o, const char *key);
int json_get_int(json_object *o, const char *key, int def);
bool json_get_bool(json_object *o, const char *key);
