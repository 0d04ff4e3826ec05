#!/bin/bash
# The kernel mechanics hookd relies on, by plain sysfs writes and no project code: the guest NVMe moves to
# vfio-pci and /dev/vfio/GROUP appears; on the way back the override is cleared and nvme binds again.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }

group=$(group_of "$NVME")
dev=$SYSFS_PCI/$NVME
echo "NVMe $NVME, IOMMU group $group"
assert_driver "$NVME" nvme
ctrl=$(ls "$dev/nvme")
echo "controller: $ctrl"
wait_for "/dev/$ctrl" 10

step "to vfio-pci"
modprobe vfio-pci
[[ -d /sys/bus/pci/drivers/vfio-pci ]] || fail "modprobe vfio-pci did not register the vfio-pci driver"
assert_vfio_dev "$group" absent
sysfs_write "$dev/driver_override" vfio-pci
assert_override "$NVME" vfio-pci
assert_driver "$NVME" nvme # driver_override alone moves nothing
sysfs_write "$dev/driver/unbind" "$NVME"
assert_driver "$NVME" none
wait_gone "/dev/$ctrl" 10
sysfs_write /sys/bus/pci/drivers_probe "$NVME"
assert_driver "$NVME" vfio-pci
wait_for "/dev/vfio/$group" 10
assert_vfio_dev "$group" present

step "back to nvme"
sysfs_write "$dev/driver/unbind" "$NVME"
assert_driver "$NVME" none
assert_vfio_dev "$group" absent
sysfs_write "$dev/driver_override" $'\n'
assert_override "$NVME" ""
sysfs_write /sys/bus/pci/drivers_probe "$NVME"
assert_driver "$NVME" nvme
wait_for "/dev/$(ls "$dev/nvme")" 10
echo "ok: /dev/$(ls "$dev/nvme") is back"

step "unload vfio-pci"
modprobe -r vfio-pci
[[ ! -d /sys/module/vfio_pci ]] || fail "vfio_pci is still loaded after modprobe -r"
echo "ok: vfio_pci unloaded"
