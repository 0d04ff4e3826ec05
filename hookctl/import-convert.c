/* hookctl import's converter: kvm.conf and modprobe.d lines to [device.*] sections. Lines are read as the
 * shell (or modprobe) would read them, and a line that names a device is either converted or reported:
 * nothing that looks like a device is dropped without a word. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "import-convert.h"
#include "util.h"

/* As hookd/lib/config.c allows in [device.NAME]. */
#define DEVICE_NAME_MAX 32
/* Text of the input echoed into comments of the VM file stays well under the INI line limit (197). */
#define ECHO_MAX 60

struct converter {
	char label[ECHO_MAX + 1]; /* the input's name, control characters replaced */
	FILE *out;		  /* memstream of the sections */
	struct import_result *res;
	char **taken; /* addresses, ids and device names already used */
	size_t n_taken;
	unsigned line;
	bool line_converted; /* the current line gave at least one device */
	bool line_lost;	     /* ... or was reported as lost */
};

/* A copy of s fit for a comment in the VM file: printable ASCII, at most ECHO_MAX characters. */
static void echo_safe(char *out, size_t size, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (n == ECHO_MAX - 3 && len - i > 3) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

static int take(struct converter *cv, const char *what)
{
	char **grown = realloc(cv->taken, (cv->n_taken + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	cv->taken = grown;
	cv->taken[cv->n_taken] = strdup(what);
	if (!cv->taken[cv->n_taken])
		return -ENOMEM;
	cv->n_taken++;
	return 0;
}

static bool taken(const struct converter *cv, const char *what)
{
	for (size_t i = 0; i < cv->n_taken; i++)
		if (streq(cv->taken[i], what))
			return true;
	return false;
}

static int add_at(struct diag *d, const struct converter *cv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int add_at(struct diag *d, const struct converter *cv, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diag_vadd_at(d, cv->label, cv->line, fmt, ap);
	va_end(ap);
	return r;
}

static int lost(struct converter *cv, const char *why, const char *what)
{
	char shown[ECHO_MAX + 1];

	cv->line_lost = true;
	echo_safe(shown, sizeof(shown), what, strlen(what));
	if (add_at(&cv->res->lost, cv, "not imported: %s '%s'", why, shown) < 0)
		return -ENOMEM;
	return add_at(&cv->res->notes, cv, "not imported: %s '%s'", why, shown);
}

static int hex_field(const char *s, size_t len, size_t max_digits, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0 || len > max_digits)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 16 +
		    (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	*ret = v;
	return 0;
}

int import_parse_address(const char *s, char out[static 13])
{
	/* Field widths and the separators allowed after each field: DDDD:BB:DD.F or BB:DD.F, where libvirt's
	 * node device names put '_' for any separator. */
	static const size_t widths4[] = { 4, 2, 2, 1 }, widths3[] = { 2, 2, 1 };
	static const char *const seps4[] = { "_:", "_:", "_.", "" }, *const seps3[] = { "_:", "_.", "" };
	const char *start[4];
	char sep[4];
	size_t len[4], n = 0;
	unsigned v[4], domain = 0;

	if (strncasecmp(s, "pci_", 4) == 0)
		s += 4;
	for (const char *p = s;; p++) {
		if (*p == '_' || *p == ':' || *p == '.' || *p == '\0') {
			if (n == 4)
				return -EINVAL;
			start[n] = s;
			len[n] = (size_t)(p - s);
			sep[n++] = *p;
			s = p + 1;
			if (*p == '\0')
				break;
		}
	}
	if (n != 3 && n != 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t width = n == 4 ? widths4[i] : widths3[i];
		const char *seps = n == 4 ? seps4[i] : seps3[i];

		if (len[i] != width || hex_field(start[i], len[i], width, &v[i]) < 0 ||
		    (sep[i] && !strchr(seps, sep[i])))
			return -EINVAL;
	}
	if (n == 4)
		domain = v[0];
	if (v[n - 2] > 0x1f || v[n - 1] > 7)
		return -EINVAL;
	snprintf(out, 13, "%04x:%02x:%02x.%x", domain, v[n - 3], v[n - 2], v[n - 1]);
	return 0;
}

/* VIRSH_GPU_VIDEO -> "gpu-video", unique in this file, valid as [device.NAME]. */
static int device_name(struct converter *cv, const char *var, char out[static DEVICE_NAME_MAX + 1])
{
	char base[DEVICE_NAME_MAX + 1];
	size_t n = 0;
	int r;

	if (strncmp(var, "VIRSH_", 6) == 0 && var[6])
		var += 6;
	for (; *var && n < DEVICE_NAME_MAX; var++)
		base[n++] = *var == '_' ? '-' : (char)tolower((unsigned char)*var);
	base[n] = '\0';
	snprintf(out, DEVICE_NAME_MAX + 1, "%s", base);
	for (unsigned i = 2; taken(cv, out); i++) {
		char suffix[16];
		int keep;

		snprintf(suffix, sizeof(suffix), "-%u", i);
		keep = (int)(DEVICE_NAME_MAX - strlen(suffix));
		snprintf(out, DEVICE_NAME_MAX + 1, "%.*s%s", keep, base, suffix);
	}
	r = take(cv, out);
	return r;
}

static int add_address(struct converter *cv, const char *var, const char *address)
{
	char name[DEVICE_NAME_MAX + 1], shown[ECHO_MAX + 1];
	int r;

	cv->line_converted = true;
	if (taken(cv, address))
		return add_at(&cv->res->notes, cv, "%s is already imported; skipped.", address);
	r = take(cv, address);
	if (r < 0)
		return r;
	r = device_name(cv, var, name);
	if (r < 0)
		return r;
	echo_safe(shown, sizeof(shown), var, strlen(var));
	fprintf(cv->out, "\n[device.%s]\n# from %s in %s, line %u\naddress = %s\n", name, shown, cv->label, cv->line,
		address);
	cv->res->n_devices++;
	return 0;
}

/* "1002:731f" from ids= of vfio-pci (modprobe.d, or vfio-pci.ids= on the kernel command line). */
static int add_ids(struct converter *cv, const char *ids, const char *source)
{
	_cleanup_free_ char *copy = strdup(ids);
	char *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *id = strtok_r(copy, ",", &save); id && r >= 0; id = strtok_r(NULL, ",", &save)) {
		unsigned vendor, device;
		char canon[10];

		if (strlen(id) != 9 || id[4] != ':' || hex_field(id, 4, 4, &vendor) < 0 ||
		    hex_field(id + 5, 4, 4, &device) < 0) {
			r = lost(cv, "not a vendor:device id:", id);
			continue;
		}
		cv->line_converted = true;
		snprintf(canon, sizeof(canon), "%04x:%04x", vendor, device);
		if (taken(cv, canon)) {
			r = add_at(&cv->res->notes, cv, "%s is already imported; skipped.", canon);
			continue;
		}
		r = take(cv, canon);
		if (r < 0)
			break;
		fprintf(cv->out, "\n[device.id-%04x-%04x]\n# from '%s' in %s, line %u\nmatch = %s\n", vendor, device,
			source, cv->label, cv->line, canon);
		cv->res->n_devices++;
	}
	return r;
}

/* One shell word starting at *p: quotes removed, backslashes applied. *expands is set when the word holds
 * $ or ` (outside single quotes): its value is only known to a shell. -EINVAL for an unterminated quote. */
static int shell_word(const char **p, char **ret, bool *expands)
{
	_cleanup_free_ char *buf = NULL;
	const char *s = *p;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return -ENOMEM;
	*expands = false;
	while (*s && !strchr(" \t;&|<>()", *s)) {
		if (*s == '\\') {
			if (!s[1])
				break; /* a continuation line: the word ends here */
			fputc(s[1], f);
			s += 2;
		} else if (*s == '\'') {
			const char *end = strchr(s + 1, '\'');

			if (!end) {
				fclose(f);
				return -EINVAL;
			}
			fwrite(s + 1, 1, (size_t)(end - s - 1), f);
			s = end + 1;
		} else if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1] && strchr("$`\"\\", s[1]))
					s++;
				else if (*s == '$' || *s == '`')
					*expands = true;
				fputc(*s, f);
			}
			if (*s != '"') {
				fclose(f);
				return -EINVAL;
			}
			s++;
		} else {
			if (*s == '$' || *s == '`')
				*expands = true;
			fputc(*s++, f);
		}
	}
	if (fclose(f) != 0)
		return -ENOMEM;
	*p = s;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* NAME=VALUE: length of NAME (a shell identifier) when s is an assignment, else 0. */
static size_t assignment_name_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return s[n] == '=' ? n : 0;
}

static int assignment(struct converter *cv, const char *name, const char *value, bool expands)
{
	bool virsh = strncmp(name, "VIRSH_", 6) == 0;
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	int r = 0;

	if (expands) {
		if (virsh)
			return lost(cv, "its value is a shell expansion, which import does not evaluate:", value);
		return 0;
	}
	/* A kernel command line in a variable (GRUB_CMDLINE_LINUX="... vfio-pci.ids=V:D,V:D"). */
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t", &save); w && r >= 0; w = strtok_r(NULL, " \t", &save)) {
		char address[13];

		if (startswith(w, "vfio-pci.ids=") || startswith(w, "vfio_pci.ids="))
			r = add_ids(cv, w + strlen("vfio-pci.ids="), "vfio-pci.ids=");
		else if ((virsh || strncasecmp(w, "pci_", 4) == 0) && import_parse_address(w, address) == 0)
			r = add_address(cv, name, address); /* other names only in libvirt's pci_ spelling */
		else if (virsh)
			r = lost(cv, "not a PCI address (pci_0000_0a_00_0 or 0000:0a:00.0):", w);
	}
	if (r >= 0 && virsh && !cv->line_converted && !cv->line_lost)
		r = lost(cv, "no PCI address in", name);
	return r;
}

/* A line of shell: [export] NAME=VALUE ... [; ...] [# comment]. Returns 1 when it was one, 0 when it is a
 * command or something else (left for the other readers), <0 on -ENOMEM. */
static int shell_line(struct converter *cv, const char *s)
{
	bool any = false, first = true;
	int r;

	for (;;) {
		_cleanup_free_ char *word = NULL;
		const char *start;
		size_t name_len;
		bool expands;

		s += strspn(s, " \t");
		if (!*s || *s == '#')
			return any;
		if (*s == ';') {
			s++;
			first = true;
			continue;
		}
		start = s;
		r = shell_word(&s, &word, &expands);
		if (r == -EINVAL) {
			if (strstr(start, "VIRSH_"))
				return lost(cv, "a quote is not closed in", start) < 0 ? -ENOMEM : 1;
			return any;
		}
		if (r < 0)
			return r;
		if (s == start)
			return any; /* an operator: a command line */
		name_len = assignment_name_len(start);
		if (first && !name_len &&
		    (streq(word, "export") || streq(word, "declare") || streq(word, "typeset") ||
		     streq(word, "readonly") || streq(word, "local"))) {
			first = false;
			continue;
		}
		if (!name_len) {
			if (word[0] == '-' && !first)
				continue; /* declare -x */
			return any;
		}
		first = false;
		any = true;
		{
			/* The name as written (unquoted by definition) and the unquoted value after '='. */
			_cleanup_free_ char *name = strndup(start, name_len);

			if (!name)
				return -ENOMEM;
			r = assignment(cv, name, strchr(word, '=') + 1, expands);
			if (r < 0)
				return r;
		}
	}
}

/* "options vfio-pci ids=1002:731f,1002:ab38 disable_vga=1": 1 when it was such a line. */
static int modprobe_line(struct converter *cv, const char *s)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL, *word, *hash;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	hash = strchr(copy, '#');
	if (hash)
		*hash = '\0';
	word = strtok_r(copy, " \t", &save);
	if (!word || !streq(word, "options"))
		return 0;
	word = strtok_r(NULL, " \t", &save);
	if (!word || !(streq(word, "vfio-pci") || streq(word, "vfio_pci")))
		return 0;
	while (r >= 0 && (word = strtok_r(NULL, " \t", &save)))
		if (startswith(word, "ids="))
			r = add_ids(cv, word + 4, "options vfio-pci ids=");
	return r < 0 ? r : 1;
}

/* A line naming VIRSH_ other than as a use ($VIRSH_X, ${VIRSH_X}). */
static bool names_virsh_variable(const char *s)
{
	for (const char *p = strstr(s, "VIRSH_"); p; p = strstr(p + 1, "VIRSH_"))
		if (p == s || (p[-1] != '$' && p[-1] != '{'))
			return true;
	return false;
}

static int convert_line(struct converter *cv, const char *s, size_t len)
{
	_cleanup_free_ char *line = NULL;
	int r;

	cv->line_converted = cv->line_lost = false;
	if (memchr(s, '\0', len)) {
		cv->line_lost = true;
		if (add_at(&cv->res->lost, cv, "not imported: the line holds a NUL byte (binary data)") < 0)
			return -ENOMEM;
		return add_at(&cv->res->notes, cv, "not imported: the line holds a NUL byte (binary data)");
	}
	line = strndup(s, len);
	if (!line)
		return -ENOMEM;
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0'; /* a file saved with DOS line ends */
	s = line + strspn(line, " \t");
	if (!*s || *s == '#')
		return 0;
	r = shell_line(cv, s);
	if (r == 0)
		r = modprobe_line(cv, s);
	if (r < 0)
		return r;
	if (cv->line_converted || cv->line_lost)
		return 0;
	if (names_virsh_variable(s)) {
		r = lost(cv, "names a VIRSH_ variable but is not an assignment (no spaces around '=' in shell):", s);
		return r < 0 ? r : 0;
	}
	r = add_at(&cv->res->notes, cv, "ignored (not a VIRSH_*=pci_* line or 'options vfio-pci ids=').");
	return r < 0 ? r : 0;
}

void import_result_done(struct import_result *r)
{
	free(r->body);
	diag_clear(&r->notes);
	diag_clear(&r->lost);
	*r = (struct import_result){ 0 };
}

int import_convert(const char *label, const char *text, size_t len, struct import_result *ret)
{
	struct converter cv = { .res = ret };
	size_t body_len = 0;
	int r = 0;

	*ret = (struct import_result){ 0 };
	echo_safe(cv.label, sizeof(cv.label), label, strlen(label));
	cv.out = open_memstream(&ret->body, &body_len);
	if (!cv.out)
		return -ENOMEM;
	for (size_t off = 0; off < len && r >= 0;) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

		cv.line++;
		r = convert_line(&cv, text + off, n);
		off += n + 1;
	}
	if (fclose(cv.out) != 0 && r >= 0)
		r = -ENOMEM;
	for (size_t i = 0; i < cv.n_taken; i++)
		free(cv.taken[i]);
	free(cv.taken);
	if (r < 0) {
		import_result_done(ret);
		return r;
	}
	return 0;
}
