#!/bin/bash
# A failure part-way through prepare undoes everything done so far (an injected failure at each chosen
# step), and what can be known before is refused before anything changes: a PCI bridge in the file (it is the
# host's own; vfio-pci would refuse it only after the devices before it had moved) and a device that vanished.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

step "a bridge named after three devices: refused before anything changes"
modprobe e1000
vm_config mix <<INI
[device.ssd]
address = $NVME
[device.audio]
address = $GPU_AUDIO
[device.vga]
address = $GPU_VGA
[device.bridge]
address = $BRIDGE
whole-group = yes
[vm]
release-console = yes
INI
bridge_driver=$(driver_of "$BRIDGE")
engine_refused "$BRIDGE \(bridge\): it is a PCI bridge or root port .*it never goes to a VM" prepare mix
assert_on_host "$NVME" nvme
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_on_host "$GPU_VGA" bochs-drm
assert_driver "$BRIDGE" "$bridge_driver"
assert_override "$BRIDGE" ""
assert_on_host "$SPLIT_E1000" e1000
assert_on_host "$SPLIT_NVME" nvme
assert_vtcon_bound yes
assert_status mix on-host
step "libvirt's release after the refused start: nothing left to do, journal gone"
engine_ok release mix
assert_journal_gone mix
modprobe -r e1000

step "a device that is gone before prepare: refused, nothing changed"
vm_config two <<INI
[device.ssd]
address = $NVME
[device.split]
address = $SPLIT_NVME
whole-group = yes
INI
sysfs_write "/sys/bus/pci/devices/$SPLIT_NVME/remove" 1
wait_gone "/sys/bus/pci/devices/$SPLIT_NVME" 10
engine_refused "$SPLIT_NVME \(split\): no such PCI device" prepare two
assert_on_host "$NVME" nvme
sysfs_write /sys/bus/pci/rescan 1
wait_for "/sys/bus/pci/devices/$SPLIT_NVME/driver" 20
assert_on_host "$SPLIT_NVME" nvme

require_fault_injection
for fault in override:$SPLIT_NVME unbind:$SPLIT_NVME probe:$SPLIT_NVME verify:$SPLIT_NVME; do
	step "injected failure at $fault: full rollback"
	HOOKD_FAULT="fail-at:$fault" engine_refused "VM two: $SPLIT_NVME \(split\)" prepare two
	assert_on_host "$NVME" nvme
	assert_on_host "$SPLIT_NVME" nvme
	assert_status two on-host
	engine_ok release two
	assert_journal_gone two
done
