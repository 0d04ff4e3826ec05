/* The values of [vm] hugepages and hugepage-size (config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <strings.h>

#include "config.h"
#include "util.h"

/* Decimal digits of S up to END; 0 or -EINVAL (none, or over MAX). */
static int digits(const char *s, const char **end, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*end = p;
	*ret = v;
	return 0;
}

int hugepages_value_parse(const char *s, struct hugepages_request *req)
{
	const char *end;
	uint64_t count;

	if (!s)
		return -EINVAL;
	if (strcasecmp(s, "auto") == 0) {
		req->mode = HUGEPAGES_AUTO;
		req->count = 0;
		return 0;
	}
	if (digits(s, &end, HUGEPAGES_COUNT_MAX, &count) < 0 || *end || count == 0)
		return -EINVAL;
	req->mode = HUGEPAGES_COUNT;
	req->count = count;
	return 0;
}

int hugepage_size_parse(const char *s, uint64_t *ret_kib)
{
	static const char powers[] = "kmg";
	const char *end, *power;
	uint64_t v, scale = 1;

	if (!s || digits(s, &end, UINT64_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	if (*end == ' ')
		end++;
	if (*end) {
		power = strchr(powers, tolower((unsigned char)*end));
		if (!power || (end[1] && strcasecmp(end + 1, "b") != 0 && strcasecmp(end + 1, "ib") != 0))
			return -EINVAL;
		for (long i = 0; i < power - powers; i++)
			scale *= 1024;
	}
	if (v > UINT64_MAX / 1024 / scale)
		return -EINVAL;
	*ret_kib = v * scale;
	return 0;
}
