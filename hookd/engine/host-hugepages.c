/* HOST_HUGEPAGES, the read side: reading a pool and checking a target (host-hugepages.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "host-hugepages-size.h"
#include "host-hugepages.h"
#include "util.h"

int hugepages_count_parse(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int read_count(const char *sysfs_root, unsigned node, uint64_t size_kib, const char *attr, uint64_t *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	char relpath[128];
	size_t len;
	int r;

	if (asprintf(&path, "%s/%s", sysfs_root, hugepages_pool_relpath(node, size_kib, attr, relpath)) < 0)
		return -ENOMEM;
	r = read_text_file(path, 64, &text);
	if (r < 0)
		return r;
	len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	return hugepages_count_parse(text, ret) < 0 ? -EBADMSG : 0;
}

int hugepages_pool_read(const char *sysfs_root, const char *target, struct hugepages_pool *ret)
{
	struct hugepages_pool p = { 0 };
	unsigned node;
	uint64_t size;
	int r;

	/* The target names a path: only the exact shape, never "..". */
	if (hugepages_target_parse(target, &node, &size) < 0)
		return -EINVAL;
	r = read_count(sysfs_root, node, size, "nr_hugepages", &p.nr);
	if (r < 0)
		return r;
	r = read_count(sysfs_root, node, size, "free_hugepages", &p.free);
	if (r < 0)
		return r;
	/* Older kernels and fixtures may lack surplus_hugepages: none. */
	r = read_count(sysfs_root, node, size, "surplus_hugepages", &p.surplus);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = p;
	return 0;
}

int hugepages_check(const char *sysfs_root, const char *target, const char *wanted, char **ret_why)
{
	struct hugepages_pool pool;
	unsigned node;
	uint64_t size, pages;
	char label[32];
	int r;

	*ret_why = NULL;
	if (hugepages_target_parse(target, &node, &size) < 0) {
		if (asprintf(ret_why, "hugepages: '%s' is not a pool (nodeN/hugepages-SIZEkB)", target) < 0)
			*ret_why = NULL;
		return -EINVAL;
	}
	if (hugepages_count_parse(wanted, &pages) < 0 || pages == 0) {
		if (asprintf(ret_why, "hugepages: '%s' is not a page count", wanted) < 0)
			*ret_why = NULL;
		return -EINVAL;
	}
	r = hugepages_pool_read(sysfs_root, target, &pool);
	if (r < 0) {
		if (asprintf(ret_why, "hugepages: node %u has no pool of %s pages (%s)", node,
			     hugepages_size_label(size, label), strerror(-r)) < 0)
			*ret_why = NULL;
		return r == -ENOENT ? -ENOENT : -EINVAL;
	}
	return 0;
}
