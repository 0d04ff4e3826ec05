/* HOST_HUGEPAGES, the read side: reading a pool and checking a target (host-hugepages.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domxml-memory.h"
#include "fileio.h"
#include "host-hugepages-size.h"
#include "host-changes.h"
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
	/* sysfs attributes stat as 4096 bytes whatever they hold. */
	r = read_text_file(path, 4096, &text);
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

/* NODE's MemTotal in KiB from its meminfo ("Node 0 MemTotal:  2031616 kB"): 0, -ENOENT when the node does
 * not say, -errno of the read. */
static int node_memtotal_kib(const char *sysfs_root, unsigned node, uint64_t *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	unsigned long long kib;
	unsigned n;
	int r;

	if (asprintf(&path, "%s/devices/system/node/node%u/meminfo", sysfs_root, node) < 0)
		return -ENOMEM;
	r = read_text_file(path, 64 * 1024, &text);
	if (r < 0)
		return r;
	for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (sscanf(line, "Node %u MemTotal: %llu kB", &n, &kib) == 2 && n == node) {
			*ret = kib;
			return 0;
		}
	return -ENOENT;
}

/* KIB as a person reads it: MiB below 10 GiB, GiB from there. */
static const char *amount_label(uint64_t kib, char buf[static 32])
{
	if (kib < 10ULL * 1024 * 1024)
		snprintf(buf, 32, "%" PRIu64 " MiB", kib / 1024);
	else
		snprintf(buf, 32, "%" PRIu64 " GiB", kib / (1024 * 1024));
	return buf;
}

int hugepages_check(const char *sysfs_root, const char *target, const char *wanted, char **ret_why)
{
	struct hugepages_pool pool;
	unsigned node;
	uint64_t size, pages, total;
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
	if (node_memtotal_kib(sysfs_root, node, &total) == 0 && pages > total / size) {
		char asked[32], all[32];

		if (asprintf(ret_why,
			     "hugepages: %" PRIu64 " pages of %s (%s) are more than node %u has in all (%s); "
			     "no reservation can hold them",
			     pages, hugepages_size_label(size, label),
			     amount_label(pages > UINT64_MAX / size ? UINT64_MAX : pages * size, asked), node,
			     amount_label(total, all)) < 0)
			*ret_why = NULL;
		return -E2BIG;
	}
	return 0;
}

int hugepages_plan_changes(const struct vm_config *vm, const char *xml, size_t len, const char *sysfs_root,
			   const char *proc_root, struct plan_host_change **changes, size_t *n, char **ret_why)
{
	struct domxml_memory dom = { 0 };
	struct hugepages_host host = { 0 };
	_cleanup_free_ struct hugepages_need *needs = NULL;
	bool have_dom = false;
	size_t n_needs = 0;
	int r;

	*ret_why = NULL;
	if (vm->hugepages.mode == HUGEPAGES_OFF)
		return 0;
	if (xml) {
		r = domxml_memory(xml, len, &dom, ret_why);
		if (r < 0)
			goto out;
		have_dom = true;
	}
	r = hugepages_host_read(sysfs_root, proc_root, &host);
	if (r < 0)
		goto out;
	r = hugepages_size(&vm->hugepages, have_dom ? &dom : NULL, &host, &needs, &n_needs, ret_why);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_needs; i++) {
		struct plan_host_change *grown = realloc(*changes, (*n + 1) * sizeof(**changes)), *c;

		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		*changes = grown;
		c = &(*changes)[*n];
		*c = (struct plan_host_change){ .kind = HOST_HUGEPAGES, .step = HOST_CHANGE_PLANNED };
		if (hugepages_target(needs[i].node, needs[i].size_kib, &c->target) < 0 ||
		    asprintf(&c->wanted, "%" PRIu64, needs[i].pages) < 0) {
			c->wanted = NULL;
			plan_host_change_clear(c);
			r = -ENOMEM;
			goto out;
		}
		(*n)++;
	}
	r = 0;
out:
	/* A refusal names what it is about. */
	if (r == -EINVAL && *ret_why && !startswith(*ret_why, "hugepages")) {
		char *prefixed = NULL;

		if (asprintf(&prefixed, "hugepages: %s", *ret_why) >= 0) {
			free(*ret_why);
			*ret_why = prefixed;
		}
	}
	domxml_memory_clear(&dom);
	hugepages_host_clear(&host);
	return r;
}

int hugepages_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag)
{
	struct plan_host_change *changes = NULL;
	_cleanup_free_ char *why = NULL;
	size_t n = 0;
	int r;

	r = hugepages_plan_changes(vm, domain_xml, domain_xml ? strlen(domain_xml) : 0, ctx->sysfs_root, ctx->proc_root,
				   &changes, &n, &why);
	if (r == -EINVAL) {
		diag_add(diag, "VM %s: %s", p->vm, why ? why : "hugepages: cannot be sized");
		r = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (r >= 0)
			r = plan_add_host_change(p, changes[i].kind, changes[i].target, changes[i].wanted);
		plan_host_change_clear(&changes[i]);
	}
	free(changes);
	return r;
}

/* The pool's persistent pages (nr_hugepages without the surplus being let go): what a VM's ledger is counted
 * against, as before and now. */
static int reader_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	struct hugepages_pool pool;
	int r = hugepages_pool_read(ctx->sysfs_root, c->target, &pool);

	if (r < 0)
		return r;
	return asprintf(ret_value, "%" PRIu64, pool.nr > pool.surplus ? pool.nr - pool.surplus : 0) < 0 ? -ENOMEM : 0;
}

void hugepages_why_plain(char **why)
{
	char *plain;

	if (!*why || !startswith(*why, "hugepages: "))
		return;
	plain = strdup(*why + strlen("hugepages: "));
	if (plain) {
		free(*why);
		*why = plain;
	}
}

static int reader_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	int r = hugepages_check(ctx->sysfs_root, c->target, c->wanted, ret_why);

	hugepages_why_plain(ret_why);
	return r;
}

const struct host_change_reader hugepages_reader = {
	.kind = HOST_HUGEPAGES,
	.shared = false, /* each VM keeps its own ledger */
	.read = reader_read,
	.check = reader_check,
};
