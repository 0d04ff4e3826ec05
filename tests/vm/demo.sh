#!/bin/bash
# tests/vm/demo's guest half (run by `testbed --demo`): show the IOMMU groups with each device's driver, then
# move the guest NVMe to vfio-pci and back by plain sysfs writes, saying what each step is for; then the
# story (demo-story.sh): hookd doing the same for a VM that a real libvirtd starts and destroys.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }

class_name() {
	case "$1" in
	0x0300*) echo "VGA controller" ;;
	0x0380*) echo "display controller" ;;
	0x0403*) echo "audio device" ;;
	0x0108*) echo "NVMe controller" ;;
	0x0200*) echo "Ethernet controller" ;;
	0x0600*) echo "host bridge" ;;
	0x0601*) echo "ISA bridge" ;;
	0x0604*) echo "PCI bridge" ;;
	0x0106*) echo "SATA controller" ;;
	0x0c05*) echo "SMBus" ;;
	0x0806*) echo "IOMMU" ;;
	*) echo "class $1" ;;
	esac
}

role_of() {
	local v
	for v in GPU_VGA GPU_AUDIO HOST_VGA NVME BRIDGE SPLIT_E1000 SPLIT_NVME; do
		[[ "${!v}" == "$1" ]] && echo "  <- $v" && return
	done
	[[ " $NVME_EXTRA " == *" $1 "* ]] && echo "  <- NVME_EXTRA"
	[[ "$2" == 0x1af4:0x1009 ]] && echo "  (the testbed's 9p share)"
	return 0
}

echo
echo "== IOMMU groups of the guest (what hookctl iommu will show)"
for g in $(printf '%s\n' /sys/kernel/iommu_groups/* | sed 's|.*/||' | sort -n); do
	echo "group $g"
	for d in "/sys/kernel/iommu_groups/$g/devices/"*; do
		bdf=${d##*/}
		read -r class <"$d/class"
		read -r vendor <"$d/vendor"
		read -r device <"$d/device"
		printf '  %s  %-20s [%s:%s]  driver: %-14s%s\n' "$bdf" "$(class_name "$class")" "${vendor#0x}" \
			"${device#0x}" "$(driver_of "$bdf")" "$(role_of "$bdf" "$vendor:$device")"
	done
done

group=$(group_of "$NVME")
ctrl=$(ls "$SYSFS_PCI/$NVME/nvme")
echo
echo "== Moving the guest NVMe $NVME (group $group, /dev/$ctrl) to vfio-pci, as hookd does on 'prepare'"
echo "It is alone in its group, so it can go to a VM by itself. First the vfio-pci driver must exist:"
modprobe vfio-pci
echo "  modprobe vfio-pci"
echo "driver_override says only vfio-pci may bind it next; it does not move anything by itself:"
sysfs_write "$SYSFS_PCI/$NVME/driver_override" vfio-pci
echo "  driver is still $(driver_of "$NVME")"
echo "unbind runs nvme's remove(): the namespaces disappear (hookd checks nothing is mounted first):"
sysfs_write "$SYSFS_PCI/$NVME/driver/unbind" "$NVME"
wait_gone "/dev/$ctrl" 10
echo "  driver is now $(driver_of "$NVME"); /dev/$ctrl is gone"
echo "drivers_probe asks the bus to find a driver; the override makes it vfio-pci:"
sysfs_write /sys/bus/pci/drivers_probe "$NVME"
wait_for "/dev/vfio/$group" 10
echo "  driver is now $(driver_of "$NVME"); /dev/vfio/$group exists: QEMU could open it"

echo
echo "== And back to the host, as hookd does on 'release'"
sysfs_write "$SYSFS_PCI/$NVME/driver/unbind" "$NVME"
echo "  /dev/vfio/$group: $([[ -e /dev/vfio/$group ]] && echo still there || echo gone)"
echo "clear the override, or the next probe would pick vfio-pci again:"
sysfs_write "$SYSFS_PCI/$NVME/driver_override" $'\n'
sysfs_write /sys/bus/pci/drivers_probe "$NVME"
wait_for "$SYSFS_PCI/$NVME/nvme" 10
ctrl=$(ls "$SYSFS_PCI/$NVME/nvme")
wait_for "/dev/$ctrl" 10
echo "  driver is $(driver_of "$NVME") again; /dev/$ctrl is back"
modprobe -r vfio-pci
echo "  modprobe -r vfio-pci: nothing else uses it"
assert_driver "$NVME" nvme >/dev/null
echo
echo "== The same moves, for a GPU with its audio function and framebuffer console, are hookd's job: the story."
# shellcheck source-path=SCRIPTDIR source=demo-story.sh
. "$HOOKD_SRC/tests/vm/demo-story.sh"
