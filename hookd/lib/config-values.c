#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config-values.h"
#include "config.h"
#include "util.h"

int config_parse_boolean(const char *s, bool *ret)
{
	static const char *const truthy[] = { "yes", "true", "on", "1" };
	static const char *const falsy[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(truthy); i++) {
		if (strcasecmp(s, truthy[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, falsy[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Exactly N hex digits at s; their value in *ret. Locale-free on purpose (isxdigit would be too). */
static int hex_digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * 16 + d;
	}
	*ret = v;
	return 0;
}

int pci_address_canonical(const char *in, char out[static 13])
{
	unsigned domain = 0, bus, dev, fn;
	const char *p = in;
	size_t len;

	if (!in)
		return -EINVAL;
	len = strlen(in);
	/* DDDD:BB:DD.F (12) or BB:DD.F (7). Linux numbers VMD domains past ffff; those do not fit here. */
	if (len == 12) {
		if (hex_digits(p, 4, &domain) < 0 || p[4] != ':')
			return -EINVAL;
		p += 5;
	} else if (len != 7) {
		return -EINVAL;
	}
	if (hex_digits(p, 2, &bus) < 0 || p[2] != ':' || hex_digits(p + 3, 2, &dev) < 0 || p[5] != '.' ||
	    hex_digits(p + 6, 1, &fn) < 0)
		return -EINVAL;
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, 13, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
	return 0;
}

int pci_id_parse(const char *s, unsigned *vendor, unsigned *device)
{
	unsigned v, d;

	if (strlen(s) != 9 || s[4] != ':' || hex_digits(s, 4, &v) < 0 || hex_digits(s + 5, 4, &d) < 0)
		return -EINVAL;
	if (v == 0xffff)
		return -EINVAL;
	*vendor = v;
	*device = d;
	return 0;
}

bool module_name_valid(const char *s)
{
	size_t len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

	return len > 0 && s[len] == '\0' && len <= MODULE_NAME_MAX;
}

int unit_name_check(const char *s, const char **why)
{
	static const char *const suffixes[] = { ".service", ".socket", ".target", ".timer", ".path" };
	/* Stopping one of these would stop hookd, libvirt (whose hook is waiting on us), or the bus every
	 * later step needs. */
	static const char *const needed[] = { "hookd.",	      "libvirtd.",	 "libvirtd-",	     "virtqemud.",
					      "virtqemud-",   "virtlogd.",	 "virtlockd.",	     "dbus.",
					      "dbus-broker.", "systemd-logind.", "systemd-journald." };
	size_t len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.\\@-");
	const char *suffix = NULL, *at;

	if (len == 0 || s[len] != '\0' || len > 255) {
		*why = "not a unit name (letters, digits and :_.\\@-, at most 255)";
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(suffixes) && !suffix; i++) {
		size_t n = strlen(suffixes[i]);

		if (len > n && streq(s + len - n, suffixes[i]))
			suffix = s + len - n;
	}
	if (!suffix) {
		*why = "a unit name ends in .service, .socket, .target, .timer or .path";
		return -EINVAL;
	}
	at = strchr(s, '@');
	if (at && (at == s || at + 1 == suffix || strchr(at + 1, '@'))) {
		*why = "a template unit needs its instance (name@instance.service)";
		return -EINVAL;
	}
	for (size_t i = 0; i < ELEMENTSOF(needed); i++)
		if (startswith(s, needed[i])) {
			*why = "hookd needs that unit running while it works";
			return -EINVAL;
		}
	return 0;
}

bool module_names_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		char ca = *a == '-' ? '_' : *a, cb = *b == '-' ? '_' : *b;

		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

const char reset_methods_known[] = "device_specific acpi flr af_flr pm bus";

static bool reset_method_known(const char *word, size_t len)
{
	static const char *const methods[] = { "device_specific", "acpi", "flr", "af_flr", "pm", "bus" };

	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strlen(methods[i]) == len && strncmp(methods[i], word, len) == 0)
			return true;
	return false;
}

int reset_method_normalize(const char *s, char **ret, const char **why)
{
	_cleanup_free_ char *out = NULL;
	char *o;

	/* The result is never longer than the input. */
	out = o = malloc(strlen(s) + 1);
	if (!out)
		return -ENOMEM;
	for (const char *p = s;;) {
		size_t len;

		p += strspn(p, " \t");
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (!reset_method_known(p, len)) {
			*why = "unknown reset method";
			return -EINVAL;
		}
		/* Look for this word among those already copied. */
		for (const char *q = out; q < o;) {
			size_t qlen = strcspn(q, " ");

			if (qlen == len && strncmp(q, p, len) == 0) {
				*why = "a reset method is listed twice";
				return -EINVAL;
			}
			q += qlen + (q[qlen] == ' ');
		}
		if (o != out)
			*o++ = ' ';
		memcpy(o, p, len);
		o += len;
		*o = '\0';
		p += len;
	}
	if (o == out) {
		*why = "no reset method given";
		return -EINVAL;
	}
	*o = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

int parse_seconds_as_ms(const char *s, unsigned max_ms, unsigned *ret_ms)
{
	unsigned long long ms = 0;
	size_t int_digits, frac_digits = 0;
	const char *p = s;

	int_digits = strspn(p, "0123456789");
	/* More digits than any sane timeout: refuse before the arithmetic could overflow. */
	if (int_digits == 0 || int_digits > 9)
		return -EINVAL;
	for (size_t i = 0; i < int_digits; i++)
		ms = ms * 10 + (unsigned)(p[i] - '0');
	ms *= 1000;
	p += int_digits;
	if (*p == '.') {
		unsigned long long scale = 100;

		p++;
		frac_digits = strspn(p, "0123456789");
		if (frac_digits == 0 || frac_digits > 3)
			return -EINVAL;
		for (size_t i = 0; i < frac_digits; i++, scale /= 10)
			ms += (unsigned)(p[i] - '0') * scale;
		p += frac_digits;
	}
	if (*p != '\0' || ms == 0 || ms > max_ms)
		return -EINVAL;
	*ret_ms = (unsigned)ms;
	return 0;
}

/* Levenshtein distance, capped: anything above CAP is reported as CAP + 1. Words here are short keys. */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= ELEMENTSOF(row) || (la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (tolower((unsigned char)a[i - 1]) != b[j - 1]);

			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > cap ? cap + 1 : row[lb];
}

const char *closest_choice(const char *word, const char *const *choices, size_t n_choices)
{
	const char *best = NULL;
	size_t best_distance = 3;

	for (size_t i = 0; i < n_choices; i++) {
		size_t d = edit_distance(word, choices[i], 2);

		if (d < best_distance) {
			best = choices[i];
			best_distance = d;
		}
	}
	return best;
}

/* "label:line: message", or "label: message" for the file as a whole (line 0). */
void config_problem(struct config_reporter *rep, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd_at(rep->diag, rep->label, line, fmt, ap);
	va_end(ap);
	if (r < 0) {
		rep->error = r;
		return;
	}
	rep->problems++;
}

/* A value that fails to parse and holds " #" almost always carries a comment inih did not strip. */
const char *config_comment_hint(const char *value)
{
	return strstr(value, " #") || strstr(value, "\t#")
		       ? " ('#' starts a comment only at the start of a line; after a value use ' ;')"
		       : "";
}

void config_unknown_key(struct config_reporter *rep, unsigned line, const char *key, const char *section,
			const char *const *keys, size_t n_keys)
{
	const char *guess = closest_choice(key, keys, n_keys);

	if (guess)
		config_problem(rep, line, "unknown key '%s' in [%s] (did you mean '%s'?)", key, section, guess);
	else
		config_problem(rep, line, "unknown key '%s' in [%s]", key, section);
}

int config_key_index(const char *key, const char *const *keys, size_t n_keys)
{
	for (size_t i = 0; i < n_keys; i++)
		if (streq(key, keys[i]))
			return (int)i;
	return -1;
}
