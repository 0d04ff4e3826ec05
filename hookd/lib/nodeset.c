#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeset.h"

void nodeset_add(struct nodeset *s, unsigned id)
{
	if (id < NODESET_MAX)
		s->bits[id / 64] |= UINT64_C(1) << (id % 64);
}

static void nodeset_remove(struct nodeset *s, unsigned id)
{
	if (id < NODESET_MAX)
		s->bits[id / 64] &= ~(UINT64_C(1) << (id % 64));
}

bool nodeset_has(const struct nodeset *s, unsigned id)
{
	return id < NODESET_MAX && (s->bits[id / 64] >> (id % 64)) & 1;
}

unsigned nodeset_count(const struct nodeset *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NODESET_MAX / 64; i++)
		n += (unsigned)__builtin_popcountll(s->bits[i]);
	return n;
}

unsigned nodeset_nth(const struct nodeset *s, unsigned i)
{
	for (unsigned id = 0; id < NODESET_MAX; id++)
		if (nodeset_has(s, id) && i-- == 0)
			return id;
	return NODESET_MAX;
}

/* One decimal id at *P, advancing it. */
static int parse_id(const char **p, unsigned *ret)
{
	unsigned long v = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (unsigned long)(**p - '0');
		if (v >= NODESET_MAX)
			return -ERANGE;
		(*p)++;
	}
	*ret = (unsigned)v;
	return 0;
}

static void skip_blanks(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int nodeset_parse(const char *s, struct nodeset *ret)
{
	struct nodeset add = { 0 }, del = { 0 };
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (;;) {
		bool negate = false;
		unsigned a, b;
		int r;

		skip_blanks(&p);
		if (*p == '^') {
			negate = true;
			p++;
		}
		r = parse_id(&p, &a);
		if (r < 0)
			return r;
		b = a;
		if (*p == '-') {
			p++;
			r = parse_id(&p, &b);
			if (r < 0)
				return r;
			if (b < a)
				return -EINVAL;
		}
		for (unsigned id = a; id <= b; id++)
			nodeset_add(negate ? &del : &add, id);
		skip_blanks(&p);
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	for (unsigned id = 0; id < NODESET_MAX; id++)
		if (nodeset_has(&del, id))
			nodeset_remove(&add, id);
	if (nodeset_count(&add) == 0)
		return -EINVAL;
	*ret = add;
	return 0;
}

int nodeset_format(const struct nodeset *s, char *buf, unsigned size)
{
	unsigned len = 0;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (unsigned id = 0; id < NODESET_MAX; id++) {
		unsigned end = id;
		int n;

		if (!nodeset_has(s, id))
			continue;
		while (end + 1 < NODESET_MAX && nodeset_has(s, end + 1))
			end++;
		if (end == id)
			n = snprintf(buf + len, size - len, "%s%u", len ? "," : "", id);
		else
			n = snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", id, end);
		if (n < 0 || (unsigned)n >= size - len)
			return -ENOBUFS;
		len += (unsigned)n;
		id = end;
	}
	return 0;
}
