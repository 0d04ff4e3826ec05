/* Issue 13's interrupt steering as host changes (host-change.h), opt-in with steer-irqs = yes: while the VM
 * runs, the interrupts of the devices it takes go to its CPUs (vm-cpus), and the host's other interrupts
 * leave them. HOST_IRQ_AFFINITY, target an IRQ number, through /proc/irq/N/smp_affinity_list (proc_write).
 * A change's wanted value says which way, "on:CPUS" (a device's IRQ: onto the VM's CPUs) or "off:CPUS" (a
 * host IRQ: away from them); shared across VMs: the value written is the union of the "on" CPUs when a holder
 * has any, else the previous affinity minus every holder's "off" CPUs (left as it was when that would leave
 * it none). An IRQ the kernel refuses to move (-EIO: managed or per-CPU) is left alone and its change says
 * so in `applied`; one that went away (a device's MSI vector freed on unbind) has nothing to restore.
 * Only what exists at prepare is steered: the MSI vectors vfio-pci allocates when the guest enables MSI come
 * later, with the kernel's default affinity. */
#pragma once

#include "config.h"
#include "diag.h"
#include "host-change.h"
#include "plan.h"

struct host_context;

/* What `applied` says of an IRQ the kernel would not move. */
#define HOST_IRQ_REFUSED "unchanged: the kernel refuses (managed or per-CPU)"

/* steer-irqs = yes: an irq-affinity change "on:CPUS" for each IRQ of P's devices (sysfs irq and msi_irqs/)
 * that is not on exactly the VM's CPUs, and "off:CPUS" for every other IRQ in /proc/irq whose affinity
 * includes a VM CPU and another CPU. Configuration problems go to DIAG; 0 or -ENOMEM. */
int host_irqs_plan(struct host_context *ctx, const struct vm_config *vm, const char *domain_xml, struct plan *p,
		   struct diag *diag);

extern const struct host_change_reader host_irq_affinity_reader; /* host-irqs.c */
extern const struct host_change_writer host_irq_affinity_writer; /* host-irqs-write.c */
