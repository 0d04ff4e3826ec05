/* Private to config.c and config-global.c: the value syntaxes of hookd's INI files, and how problems with
 * them are phrased. Each parser returns 0 or -EINVAL and leaves its outputs untouched on error.
 * (pci_address_canonical lives here too; it is declared in config.h.) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* Whoever collects problems for one file. */
struct config_reporter {
	const char *label;
	struct diag *diag;
	unsigned problems;
	int error; /* -ENOMEM: stop and fail */
};

/* "label:line: message", or "label: message" for the file as a whole (line 0). */
void config_problem(struct config_reporter *rep, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A hint to append to a refused value that holds " #" (a comment inih did not strip), else "". */
const char *config_comment_hint(const char *value);
/* "unknown key 'x' in [section]", with "did you mean" when one of KEYS is close. */
void config_unknown_key(struct config_reporter *rep, unsigned line, const char *key, const char *section,
			const char *const *keys, size_t n_keys);
/* Index of KEY in KEYS, or -1. */
int config_key_index(const char *key, const char *const *keys, size_t n_keys);

/* yes/no/true/false/on/off/1/0, any case. */
int config_parse_boolean(const char *s, bool *ret);

/* "VENDOR:DEVICE", four hex digits each ("10de:1e07"); vendor ffff (no device) is refused. */
int pci_id_parse(const char *s, unsigned *vendor, unsigned *device);

/* A kernel module name as hookd accepts it: [A-Za-z0-9_-]+, shorter than the kernel's MODULE_NAME_LEN (56). */
#define MODULE_NAME_MAX 55
bool module_name_valid(const char *s);
/* The kernel treats '-' and '_' in module names as the same character. */
bool module_names_equal(const char *a, const char *b);

/* A unit stop-units may name: a systemd unit name (at most 255 characters of [A-Za-z0-9:_.\\@-], a template
 * only with its instance) ending in .service, .socket, .target, .timer or .path, and none of the units hookd
 * itself needs while it works (hookd, libvirt's daemons, the bus, logind, journald). 0, or -EINVAL with *why
 * (static) saying what is wrong. */
int unit_name_check(const char *s, const char **why);

/* A reset_method value: one or more of the kernel's methods, space separated, no repeats. *ret is the list
 * with single spaces; on error *why (static) says what is wrong. */
int reset_method_normalize(const char *s, char **ret, const char **why);
extern const char reset_methods_known[]; /* "device_specific acpi flr af_flr pm bus", for messages */

/* Seconds with up to three decimals ("60", "0.5", "1.250") -> milliseconds, 1 ms ..  max_ms. */
int parse_seconds_as_ms(const char *s, unsigned max_ms, unsigned *ret_ms);

/* The choice closest to WORD when it looks like a typo of it (edit distance <= 2), else NULL. */
const char *closest_choice(const char *word, const char *const *choices, size_t n_choices);
