/* holders-gone, the read side (host-freeing.h): who holds a device now, through the holders' scan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holders.h"
#include "host-freeing.h"
#include "util.h"

/* A status or check must not wait on a process stuck in the kernel for longer than this. */
#define HOLDERS_READ_TIMEOUT_MS 2000u

int holders_gone_scan(const struct host_context *ctx, const char *address, unsigned timeout_ms, struct holders *ret)
{
	const struct topology t = { .sysfs_root = ctx->sysfs_root, .proc_root = ctx->proc_root };
	struct plan_device d = { .iommu_group = -1 };
	struct pci_function f;
	int r;

	r = topology_function(&t, address, &f);
	if (r < 0)
		return r;
	snprintf(d.address, sizeof(d.address), "%s", address);
	d.iommu_group = f.iommu_group;
	pci_function_clear(&f);
	return holders_scan_within(&(struct holder_scan_ctx){ .topo = &t }, &d, timeout_ms, ret);
}

/* The processes holding the device now, as a count ("0" once they are gone). */
static int holders_read(struct host_context *ctx, const struct plan_host_change *c, char **ret_value)
{
	struct holders h = { 0 };
	size_t processes = 0;
	int r;

	r = holders_gone_scan(ctx, c->target, HOLDERS_READ_TIMEOUT_MS, &h);
	if (r < 0)
		return r;
	for (size_t i = 0; i < h.n; i++)
		processes += h.v[i].kind == HOLDER_PROCESS;
	holders_clear(&h);
	return asprintf(ret_value, "%zu", processes) < 0 ? -ENOMEM : 0;
}

/* The holders themselves are the device checks' business (check_holders): they are waited for, not refused. */
static int holders_check(struct host_context *ctx, const struct plan_host_change *c, char **ret_why)
{
	unsigned ms;

	if (sscanf(c->wanted, "%u", &ms) != 1) {
		*ret_why = strdup("bad wait");
		return -EINVAL;
	}
	return 0;
}

const struct host_change_reader host_holders_gone_reader = {
	.kind = HOST_HOLDERS_GONE,
	.read = holders_read,
	.check = holders_check,
};
