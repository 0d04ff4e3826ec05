/* Sets of host CPUs, and the three ways the kernel and systemd spell them:
 * - a CPU list, "0-3,8,10-11" (sysfs cpu/online, cgroup cpuset.cpus, /proc/irq/N/smp_affinity_list, systemd's
 *   AllowedCPUs= in unit files, hookd's vm-cpus key);
 * - a hex mask in comma-separated 32-bit groups, most significant first, "ff,00000000" (workqueue/cpumask,
 *   /proc/irq/N/smp_affinity);
 * - a little-endian byte array, byte I bit J = CPU 8*I+J (systemd's AllowedCPUs D-Bus property, "ay").
 * A set is a fixed-size value (no allocation; copy it with '='), so it can live on the stack and in plans.
 * Nothing here looks at the host except cpuset_read_online(), which reads the file under a sysfs root. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPUs 0 .. CPUSET_MAX-1: the kernel's largest NR_CPUS (CONFIG_NR_CPUS_RANGE_END). */
#define CPUSET_MAX 8192u

struct cpuset {
	uint64_t words[CPUSET_MAX / 64];
};

void cpuset_clear(struct cpuset *s);
/* -ERANGE when CPU >= CPUSET_MAX. */
int cpuset_add(struct cpuset *s, unsigned cpu);
void cpuset_remove(struct cpuset *s, unsigned cpu);
bool cpuset_has(const struct cpuset *s, unsigned cpu);
bool cpuset_is_empty(const struct cpuset *s);
unsigned cpuset_count(const struct cpuset *s);
bool cpuset_equal(const struct cpuset *a, const struct cpuset *b);
/* Every CPU of A is in B (the empty set is a subset of anything). */
bool cpuset_is_subset(const struct cpuset *a, const struct cpuset *b);
/* In place: DST |= SRC, DST &= ~SRC, DST &= SRC. */
void cpuset_union(struct cpuset *dst, const struct cpuset *src);
void cpuset_difference(struct cpuset *dst, const struct cpuset *src);
void cpuset_intersect(struct cpuset *dst, const struct cpuset *src);
/* The lowest CPU in S at or after FROM, or -1 when there is none: for (c = cpuset_next(s, 0); c >= 0;
 * c = cpuset_next(s, c + 1)). */
int cpuset_next(const struct cpuset *s, unsigned from);

/* A CPU list: items "N" or "N-M" (N <= M) separated by commas and/or blanks, surrounding blanks and one
 * trailing newline allowed; "" (or blanks only) is the empty set. With CPUSET_LIBVIRT, also libvirt's
 * exclusions "^N" / "^N-M" (applied in order: "0-7,^3" is 0-2,4-7), as in <vcpupin cpuset='...'>.
 * On error: -EINVAL (or -ERANGE for a CPU >= CPUSET_MAX) with *ret_why (optional, static) saying what is
 * wrong; *ret is untouched. */
#define CPUSET_LIBVIRT 1u
int cpuset_parse_list(const char *text, unsigned flags, struct cpuset *ret, const char **ret_why);
/* The canonical CPU list ("0-3,8,10-11": ascending, ranges merged, commas only; "" for the empty set).
 * Caller frees. 0 or -ENOMEM. */
int cpuset_format_list(const struct cpuset *s, char **ret);

/* A hex mask as the kernel prints and parses it: groups of 1-8 hex digits separated by ',', the last group
 * CPUs 0-31; one trailing newline allowed. -EINVAL / -ERANGE as cpuset_parse_list. */
int cpuset_parse_mask(const char *text, struct cpuset *ret, const char **ret_why);
/* The shortest mask the kernel accepts for S ("f", "1,00000000"; "0" for the empty set). Caller frees. */
int cpuset_format_mask(const struct cpuset *s, char **ret);

/* systemd's D-Bus form: LEN bytes, little-endian. Bits beyond CPUSET_MAX must be clear (-ERANGE). */
int cpuset_from_bytes(const uint8_t *bytes, size_t len, struct cpuset *ret);
/* The shortest byte array holding S (0 bytes for the empty set); *ret is NULL then. Caller frees. */
int cpuset_to_bytes(const struct cpuset *s, uint8_t **ret, size_t *ret_len);

/* The host's online CPUs, SYSFS_ROOT/devices/system/cpu/online ("/sys" on a real host; a fixture tree in
 * tests). -errno of the read, -EINVAL when it does not parse or is empty. */
int cpuset_read_online(const char *sysfs_root, struct cpuset *ret);
