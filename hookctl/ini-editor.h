/* A small line-based editor for INI text, so that `hookctl set/unset` change one value and keep every comment,
 * blank line and the order of everything else. It follows inih's reading of a line (comments start with ';'
 * or '#', "key = value" or "key: value", indented lines continue the previous value, " ;" starts an inline
 * comment); whether the result means anything is for the real parser to say afterwards. */
#pragma once

#include <stddef.h>

struct ini_text {
	char **lines; /* without their '\n' */
	size_t n;
};

int ini_text_parse(const char *text, struct ini_text *ret);
/* The lines joined, each ending with '\n'. NULL on allocation failure. */
char *ini_text_join(const struct ini_text *t);
void ini_text_clear(struct ini_text *t);

/* "device.gpu.address" -> "device.gpu" + "address" (split at the last dot). -EINVAL with *why. */
int ini_text_split_key(const char *key, char **ret_section, char **ret_name, const char **why);
/* 0 if VALUE can be written on one INI line and read back unchanged, else -EINVAL with *why. */
int ini_text_check_value(const char *value, const char **why);

/* The value of the last assignment of section.name (continuation lines joined with '\n'). -ENOENT. */
int ini_text_get(const struct ini_text *t, const char *section, const char *name, char **ret);
/* Replace the first assignment (dropping later ones), or add one at the end of the section's last
 * occurrence, or append the section. */
int ini_text_set(struct ini_text *t, const char *section, const char *name, const char *value);
/* Remove every assignment of section.name. -ENOENT when there was none. */
int ini_text_unset(struct ini_text *t, const char *section, const char *name);
/* Remove every occurrence of [section] with its lines (comments directly above the next section stay with
 * it). -ENOENT when there was none. */
int ini_text_remove_section(struct ini_text *t, const char *section);
