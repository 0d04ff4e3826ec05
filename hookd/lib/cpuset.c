/* Sets of host CPUs and their spellings (cpuset.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuset.h"
#include "fileio.h"
#include "util.h"

#define N_WORDS (CPUSET_MAX / 64)

void cpuset_clear(struct cpuset *s)
{
	memset(s, 0, sizeof(*s));
}

int cpuset_add(struct cpuset *s, unsigned cpu)
{
	if (cpu >= CPUSET_MAX)
		return -ERANGE;
	s->words[cpu / 64] |= UINT64_C(1) << (cpu % 64);
	return 0;
}

void cpuset_remove(struct cpuset *s, unsigned cpu)
{
	if (cpu < CPUSET_MAX)
		s->words[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool cpuset_has(const struct cpuset *s, unsigned cpu)
{
	return cpu < CPUSET_MAX && (s->words[cpu / 64] >> (cpu % 64)) & 1;
}

bool cpuset_is_empty(const struct cpuset *s)
{
	for (size_t i = 0; i < N_WORDS; i++)
		if (s->words[i])
			return false;
	return true;
}

unsigned cpuset_count(const struct cpuset *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < N_WORDS; i++)
		n += (unsigned)__builtin_popcountll(s->words[i]);
	return n;
}

bool cpuset_equal(const struct cpuset *a, const struct cpuset *b)
{
	return memcmp(a->words, b->words, sizeof(a->words)) == 0;
}

bool cpuset_is_subset(const struct cpuset *a, const struct cpuset *b)
{
	for (size_t i = 0; i < N_WORDS; i++)
		if (a->words[i] & ~b->words[i])
			return false;
	return true;
}

void cpuset_union(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < N_WORDS; i++)
		dst->words[i] |= src->words[i];
}

void cpuset_difference(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < N_WORDS; i++)
		dst->words[i] &= ~src->words[i];
}

void cpuset_intersect(struct cpuset *dst, const struct cpuset *src)
{
	for (size_t i = 0; i < N_WORDS; i++)
		dst->words[i] &= src->words[i];
}

int cpuset_next(const struct cpuset *s, unsigned from)
{
	for (size_t i = from / 64; i < N_WORDS; i++) {
		uint64_t w = s->words[i];

		if (i == from / 64)
			w &= ~UINT64_C(0) << (from % 64);
		if (w)
			return (int)(i * 64 + (unsigned)__builtin_ctzll(w));
	}
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A decimal CPU number at *P, advancing *P past it. */
static int parse_cpu_number(const char **p, unsigned *ret, const char **ret_why)
{
	unsigned long n = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s)) {
		*ret_why = "expected a CPU number";
		return -EINVAL;
	}
	for (; isdigit((unsigned char)*s); s++) {
		n = n * 10 + (unsigned long)(*s - '0');
		if (n >= CPUSET_MAX) {
			*ret_why = "CPU number too large (at most 8191)";
			return -ERANGE;
		}
	}
	*p = s;
	*ret = (unsigned)n;
	return 0;
}

/* Text ends here, allowing one trailing newline. */
static bool at_end(const char *p)
{
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

int cpuset_parse_list(const char *text, unsigned flags, struct cpuset *ret, const char **ret_why)
{
	const char *unused_why, *p = text;
	struct cpuset s;
	int r;

	if (!ret_why)
		ret_why = &unused_why;
	cpuset_clear(&s);
	for (;;) {
		unsigned first, last;
		bool exclude = false;

		while (is_blank(*p) || *p == ',')
			p++;
		if (at_end(p))
			break;
		if (*p == '^' && (flags & CPUSET_LIBVIRT)) {
			exclude = true;
			p++;
		}
		r = parse_cpu_number(&p, &first, ret_why);
		if (r < 0)
			return r;
		last = first;
		if (*p == '-') {
			p++;
			r = parse_cpu_number(&p, &last, ret_why);
			if (r < 0)
				return r;
			if (last < first) {
				*ret_why = "a range goes downwards";
				return -EINVAL;
			}
		}
		if (!at_end(p) && !is_blank(*p) && *p != ',') {
			*ret_why = "unexpected character (use a list such as 0-3,8)";
			return -EINVAL;
		}
		for (unsigned c = first; c <= last; c++) {
			if (exclude)
				cpuset_remove(&s, c);
			else
				(void)cpuset_add(&s, c); /* in range: checked by parse_cpu_number() */
		}
	}
	*ret = s;
	return 0;
}

int cpuset_format_list(const struct cpuset *s, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int c, r = 0;

	if (!f)
		return -ENOMEM;
	for (c = cpuset_next(s, 0); c >= 0;) {
		int last = c;

		while (last + 1 < (int)CPUSET_MAX && cpuset_has(s, (unsigned)last + 1))
			last++;
		if (fprintf(f, "%s%d", ftell(f) > 0 ? "," : "", c) < 0 || (last > c && fprintf(f, "-%d", last) < 0))
			r = -ENOMEM;
		c = last + 1 < (int)CPUSET_MAX ? cpuset_next(s, (unsigned)last + 1) : -1;
	}
	if (fclose(f) != 0 || r < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(buf);
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cpuset_parse_mask(const char *text, struct cpuset *ret, const char **ret_why)
{
	const char *unused_why, *p, *end;
	uint32_t groups[CPUSET_MAX / 32];
	size_t n_groups = 0;
	struct cpuset s;

	if (!ret_why)
		ret_why = &unused_why;
	end = text + strlen(text);
	if (end > text && end[-1] == '\n')
		end--;
	if (end == text) {
		*ret_why = "empty mask";
		return -EINVAL;
	}
	/* Groups left to right, most significant first. */
	for (p = text; p <= end; p++) {
		uint32_t g = 0;
		unsigned digits = 0;

		for (; p < end && *p != ','; p++) {
			int d = hex_digit(*p);

			if (d < 0) {
				*ret_why = "not a hex digit (use a mask such as ff,00000000)";
				return -EINVAL;
			}
			if (++digits > 8) {
				*ret_why = "more than 8 hex digits between commas";
				return -EINVAL;
			}
			g = g << 4 | (uint32_t)d;
		}
		if (digits == 0) {
			*ret_why = "empty group in the mask";
			return -EINVAL;
		}
		if (n_groups == ELEMENTSOF(groups)) {
			*ret_why = "mask too long (more than 8192 CPUs)";
			return -ERANGE;
		}
		groups[n_groups++] = g;
	}
	cpuset_clear(&s);
	for (size_t i = 0; i < n_groups; i++) {
		size_t bit0 = (n_groups - 1 - i) * 32; /* the last group is CPUs 0-31 */

		s.words[bit0 / 64] |= (uint64_t)groups[i] << (bit0 % 64);
	}
	*ret = s;
	return 0;
}

int cpuset_format_mask(const struct cpuset *s, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int top = -1, r = 0;

	for (int c = cpuset_next(s, 0); c >= 0; c = cpuset_next(s, (unsigned)c + 1))
		top = c;
	f = open_memstream(&buf, &size);
	if (!f)
		return -ENOMEM;
	for (int g = top < 0 ? 0 : top / 32; g >= 0; g--) {
		uint32_t bits = (uint32_t)(s->words[g / 2] >> (g % 2 * 32));

		if (fprintf(f, g == top / 32 || top < 0 ? "%" PRIx32 : ",%08" PRIx32, bits) < 0)
			r = -ENOMEM;
	}
	if (fclose(f) != 0 || r < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(buf);
	return 0;
}

int cpuset_from_bytes(const uint8_t *bytes, size_t len, struct cpuset *ret)
{
	struct cpuset s;

	cpuset_clear(&s);
	for (size_t i = 0; i < len; i++) {
		if (!bytes[i])
			continue;
		if (i >= CPUSET_MAX / 8)
			return -ERANGE;
		s.words[i / 8] |= (uint64_t)bytes[i] << (i % 8 * 8);
	}
	*ret = s;
	return 0;
}

int cpuset_to_bytes(const struct cpuset *s, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *bytes = NULL;
	int top = -1;
	size_t len;

	for (int c = cpuset_next(s, 0); c >= 0; c = cpuset_next(s, (unsigned)c + 1))
		top = c;
	len = top < 0 ? 0 : (size_t)top / 8 + 1;
	if (len > 0) {
		bytes = malloc(len);
		if (!bytes)
			return -ENOMEM;
		for (size_t i = 0; i < len; i++)
			bytes[i] = (uint8_t)(s->words[i / 8] >> (i % 8 * 8));
	}
	*ret = TAKE_PTR(bytes);
	*ret_len = len;
	return 0;
}

/* The online file is short: a few bytes per range. */
#define ONLINE_FILE_MAX 65536

int cpuset_read_online(const char *sysfs_root, struct cpuset *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct cpuset s;
	int r;

	if (asprintf(&path, "%s/devices/system/cpu/online", sysfs_root) < 0)
		return -ENOMEM;
	r = read_full_file(path, ONLINE_FILE_MAX, &text, NULL);
	if (r < 0)
		return r;
	r = cpuset_parse_list(text, 0, &s, NULL);
	if (r < 0)
		return -EINVAL;
	if (cpuset_is_empty(&s))
		return -EINVAL;
	*ret = s;
	return 0;
}
