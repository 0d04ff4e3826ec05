/* A fake kernel for the engine's unit tests: a struct kernel_ops that applies the kernel's semantics to a
 * fixture sysfs tree (sysfs-fixture.h) when the engine writes it, in-process, so prepare, release, rollback
 * and recovery run end to end in milliseconds and never near the host's /sys. libvirt's tests/virpcimock.c
 * and kmod's testsuite are the models; this one is handed to the engine explicitly (engine_options.kernel)
 * instead of being preloaded.
 *
 * What it does, as the kernel does:
 * - unbind (drivers/X/unbind, devices/A/driver/unbind) takes the device lock, runs the driver's remove and
 *   removes the driver link; -ENODEV when the device is not bound to X;
 * - drivers_probe and drivers/X/bind take the device lock and bind the driver named by driver_override, or
 *   the device's default driver when there is no override, provided that driver's module is loaded; the
 *   driver link appears when the probe starts and goes again when the probe fails, and a failed probe still
 *   returns success to the writer, as the kernel's drivers_probe does;
 * - driver_override takes the device lock; an empty value reads back as "(null)";
 * - reset_method accepts "default", "" and the methods the device offers (the fixture file's content when
 *   the fake kernel is made), -EINVAL for any other;
 * - modules: load (with what it depends on) registers the module's drivers and binds the unbound devices
 *   they match; unload is -EBUSY while the module has holders or users, else unbinds its devices and
 *   unregisters its drivers; module_info reports the state, the reference count and the holders;
 * - any other attribute is written as a plain file (vtconsole bind, platform framebuffer drivers, cpufreq,
 *   hugepages); a /proc write (proc_write) writes the fixture's /proc file, which must exist.
 * Each write runs on a thread of its own, as the engine's writes to the real kernel do. The fake kernel keeps
 * its own time: a write that blocks (an injected fault, or waiting for the lock of a device whose step is
 * blocked) has run past its deadline at once and returns -ETIMEDOUT while it goes on; one that does not
 * block is never late. Tests therefore never depend on the machine's speed.
 * The engine does not read /dev/vfio, so the fake kernel does not make it; new_id is not needed either.
 *
 * Devices and drivers are taken from the tree when the fake kernel is made: a device's default driver is the
 * one it is bound to then (fk_set_default_driver() changes it), a driver's module is its drivers/X/module
 * link (built in when it has none). vfio-pci (module vfio_pci, not loaded) is always there. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "sysfs-fixture.h"

struct fake_kernel;

/* A fake kernel over F's sysfs tree (F must outlive it). Aborts the test on failure. */
struct fake_kernel *fk_new(const struct fixture *f);
/* Lets every blocked step go on, waits until none is running in the fake kernel, then frees. */
void fk_free(struct fake_kernel *k);
/* What to pass as engine_options.kernel. */
const struct kernel *fk_kernel(struct fake_kernel *k);

/* The driver ADDRESS binds to when it has no driver_override (NULL: none matches it). */
void fk_set_default_driver(struct fake_kernel *k, const char *address, const char *driver);

/* A module (names are normalized '-' -> '_') with the PCI drivers it registers (NULL-terminated or NULL),
 * loaded or not. A driver already in the tree keeps its devices. */
void fk_add_module(struct fake_kernel *k, const char *name, bool loaded, const char *const *drivers);
/* HOLDER uses symbols of HELD: loading HOLDER loads HELD first, and HELD cannot go while HOLDER is loaded. */
void fk_module_depends(struct fake_kernel *k, const char *holder, const char *held);
/* USERS references that are not modules (a process with the device open): the module is in use. */
void fk_module_set_users(struct fake_kernel *k, const char *name, int users);
bool fk_module_loaded(struct fake_kernel *k, const char *name);

/* Faults at the kernel's real steps, each armed for the next time its step runs on ADDRESS. */
enum fk_fault {
	FK_UNBIND_BLOCKS,	    /* the driver's remove() blocks, holding the device lock, until fk_unblock() */
	FK_PROBE_FAILS,		    /* the probe fails at once: no driver, and the write still succeeds */
	FK_PROBE_BLOCKS_THEN_FAILS, /* the link appears, the probe blocks until fk_unblock(), then fails */
	FK_VANISHES_AT_UNBIND,	    /* the device is surprise-removed while its driver lets go */
};
void fk_inject(struct fake_kernel *k, const char *address, enum fk_fault fault);
/* The same, for the step's run after the next COUNT ones on ADDRESS. */
void fk_inject_after(struct fake_kernel *k, const char *address, enum fk_fault fault, unsigned count);
/* True while a step on ADDRESS is blocked in the fake kernel. */
bool fk_blocked(struct fake_kernel *k, const char *address);
/* Let the blocked step on ADDRESS go on, and wait until it and whatever queued on the device lock behind it
 * have finished. */
void fk_unblock(struct fake_kernel *k, const char *address);
/* A kernel without a system console driver to hand the console back from (no vgacon): writing 1 to a
 * vtconsole's bind does not take, and fbcon binds the framebuffer vtconsoles ("(M) frame buffer device")
 * again when the boot GPU ADDRESS is next probed successfully after such a write. */
void fk_fbcon_follows_probe(struct fake_kernel *k, const char *address);

/* Hugepages (fake-kernel-hugepages.c): a pool of SIZE_KIB pages on NODE, its sysfs files made
 * (devices/system/node/nodeN/hugepages/hugepages-SIZEkB/{nr,free,surplus}_hugepages and nodeN/compact) with NR
 * pages, all free. As the kernel does it, writing nr_hugepages a larger count gives the pool at most
 * AVAILABLE more pages (the node's free memory that is not fragmented, set with fk_hugepages_set_memory) and
 * the count reads back as what was obtained; a smaller count frees free pages, and in-use pages above it
 * become surplus, freed when they are let go. A compaction (nodeN/compact, or fk_compact_all_locked for
 * /proc/sys/vm/compact_memory) adds COMPACT_GAIN to AVAILABLE on the node's pools. */
void fk_hugepages_add(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t nr);
void fk_hugepages_set_memory(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t available,
			     uint64_t compact_gain);
/* Each page a write adds to the pool takes MS_PER_PAGE of the fake kernel's time (0 at first: instant); a
 * write that would take longer than its deadline returns -ETIMEDOUT after the deadline, and the kernel goes
 * on and adds the pages anyway, as a real nr_hugepages write does; a STOPPABLE one (kernel_write_stoppable)
 * returns -ETIMEDOUT at the deadline with only the pages made by then, as a real one killed there does. */
void fk_hugepages_set_cost(struct fake_kernel *k, unsigned node, uint64_t size_kib, unsigned ms_per_page);
/* SLOW more pages the node gives only by compacting as a write goes (after AVAILABLE ones), MS_PER_PAGE
 * each: what the kernel's direct compaction does inside an nr_hugepages write on fragmented memory. */
void fk_hugepages_set_slow(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t slow,
			   unsigned ms_per_page);
/* Show the 2 MiB pools' nodes in the fixture's /proc/buddyinfo from now on: AVAILABLE as free blocks of
 * order 9 (ready), the slow pages as order-0 pieces. */
void fk_hugepages_buddyinfo(struct fake_kernel *k);
/* The fake kernel's clock in ms (hugepages_io.now_ms): it moves only by what its pool writes took. */
unsigned long long fk_now_ms(const struct kernel *kernel);
/* The nr_hugepages writes so far, and the most pages one of them asked to add. */
unsigned fk_hugepages_writes(struct fake_kernel *k, uint64_t *ret_largest_grow);
/* Processes (a VM's QEMU) hold USED pages of the pool (at most its count); letting go frees surplus. */
void fk_hugepages_set_used(struct fake_kernel *k, unsigned node, uint64_t size_kib, uint64_t used);
/* The pool's nr_hugepages and surplus now, and the compactions asked for so far. */
uint64_t fk_hugepages_nr(struct fake_kernel *k, unsigned node, uint64_t size_kib);
uint64_t fk_hugepages_surplus(struct fake_kernel *k, unsigned node, uint64_t size_kib);
unsigned fk_hugepages_compactions(struct fake_kernel *k);

/* IRQ (a number) is managed by its driver or per-CPU: writing its /proc/irq/N/smp_affinity_list fails with
 * -EIO and changes nothing, as the kernel's irq_set_affinity does for such an IRQ. */
void fk_irq_managed(struct fake_kernel *k, const char *irq);
/* IRQ takes its next write of smp_affinity_list (0) but shows AFFINITY afterwards, as a kernel short of
 * vectors on the CPUs asked for may leave it: what hookd reads back is not what it wrote. Later writes are
 * taken as written. One IRQ at a time. */
void fk_irq_keeps(struct fake_kernel *k, const char *irq, const char *affinity);

/* Hot-unplug: ADDRESS disappears from the tree now. */
void fk_remove_device(struct fake_kernel *k, const char *address);

/* Every change the fake kernel made, one per line in order: "unbind ADDRESS DRIVER", "bind ADDRESS DRIVER",
 * "probe-failed ADDRESS DRIVER", "load MODULE", "unload MODULE", "override ADDRESS VALUE", "gone ADDRESS",
 * "write RELPATH VALUE" (plain writes under devices/system/ and kernel/: host settings), "proc RELPATH VALUE".
 * Owned by K; valid until the next step. */
const char *fk_log(struct fake_kernel *k);
void fk_log_clear(struct fake_kernel *k);
