#!/bin/bash
# The scale topology the benchmarks rely on: every extra NVMe alone in its IOMMU group, on nvme, and all of
# them can sit on vfio-pci at once (by plain sysfs writes) and come back.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }

read -r -a extra <<<"$NVME_EXTRA"
echo "${#extra[@]} extra NVMe: ${extra[*]}"
((${#extra[@]} >= 24)) || fail "expected at least 24 extra NVMe drives, found ${#extra[@]}"

step "one group each, driver nvme"
groups=()
for bdf in "${extra[@]}"; do
	assert_group_members "$bdf" >/dev/null
	assert_driver "$bdf" nvme >/dev/null
	groups+=("$(group_of "$bdf")")
done
[[ $(printf '%s\n' "${groups[@]}" "$(group_of "$NVME")" | sort -u | wc -l) == $((${#extra[@]} + 1)) ]] ||
	fail "the extra NVMe drives and the guest NVMe do not have distinct groups: ${groups[*]}"
echo "ok: ${#extra[@]} distinct groups, each with one device, all on nvme"

step "all to vfio-pci"
modprobe vfio-pci
for bdf in "${extra[@]}"; do
	printf vfio-pci >"$SYSFS_PCI/$bdf/driver_override"
	printf '%s' "$bdf" >"$SYSFS_PCI/$bdf/driver/unbind"
	printf '%s' "$bdf" >/sys/bus/pci/drivers_probe
done
for i in "${!extra[@]}"; do
	assert_driver "${extra[$i]}" vfio-pci >/dev/null
	assert_vfio_dev "${groups[$i]}" present >/dev/null
done
echo "ok: all ${#extra[@]} on vfio-pci with /dev/vfio/N"

step "all back to nvme"
for bdf in "${extra[@]}"; do
	printf '%s' "$bdf" >"$SYSFS_PCI/$bdf/driver/unbind"
	printf '\n' >"$SYSFS_PCI/$bdf/driver_override"
	printf '%s' "$bdf" >/sys/bus/pci/drivers_probe
done
for bdf in "${extra[@]}"; do
	assert_driver "$bdf" nvme >/dev/null
	assert_override "$bdf" "" >/dev/null
done
echo "ok: all ${#extra[@]} back on nvme"
modprobe -r vfio-pci
