# A fixture sysfs tree shaped like the seed documents' machines, built fresh in each test (never the host's
# /sys). Sourced after lib.sh; `make_sysfs DIR` builds it, `pci_dev` adds one function.

# pci_dev ROOT BDF VENDOR DEVICE CLASS GROUP DRIVER|- [MODULE|-] [boot_vga]
pci_dev() {
	local r=$1 bdf=$2 vendor=$3 device=$4 class=$5 group=$6 driver=$7 module=${8:--} boot=${9:-}
	local d=$r/bus/pci/devices/$bdf
	mkdir -p "$d" "$r/kernel/iommu_groups/$group/devices"
	echo "0x$vendor" >"$d/vendor"
	echo "0x$device" >"$d/device"
	echo "0x$class" >"$d/class"
	echo "(null)" >"$d/driver_override"
	echo "0x0000" >"$d/subsystem_vendor"
	[ -n "$boot" ] && echo "$boot" >"$d/boot_vga"
	ln -s "../../../../kernel/iommu_groups/$group" "$d/iommu_group"
	ln -s "../../../../../bus/pci/devices/$bdf" "$r/kernel/iommu_groups/$group/devices/$bdf"
	if [ "$driver" != - ]; then
		mkdir -p "$r/bus/pci/drivers/$driver"
		ln -s "../../drivers/$driver" "$d/driver"
		ln -sfn "../../../devices/$bdf" "$r/bus/pci/drivers/$driver/$bdf"
		if [ "$module" != - ] && [ ! -e "$r/bus/pci/drivers/$driver/module" ]; then
			mkdir -p "$r/module/$module"
			ln -s "../../../../module/$module" "$r/bus/pci/drivers/$driver/module"
		fi
	fi
}

make_sysfs() {
	local r=$1
	mkdir -p "$r/bus/pci/devices" "$r/bus/pci/drivers" "$r/kernel/iommu_groups" "$r/class/vtconsole" \
		"$r/bus/platform/drivers"
	# A bridge, with a NIC and a second NVMe behind it: a group that cannot be split.
	pci_dev "$r" 0000:00:01.0 1022 1483 060400 1 pcieport
	pci_dev "$r" 0000:03:00.0 8086 100e 020000 1 e1000 e1000
	pci_dev "$r" 0000:03:01.0 1b36 0010 010802 1 nvme nvme
	# The host's own NIC.
	pci_dev "$r" 0000:05:00.0 8086 1539 020000 2 igb igb
	# The guest's NVMe, alone in its group.
	pci_dev "$r" 0000:04:00.0 144d a808 010802 15 nvme nvme
	# Seed 1's RTX 2080 Ti: four functions, one group.
	pci_dev "$r" 0000:0a:00.0 10de 1e07 030000 28 nvidia nvidia 0
	pci_dev "$r" 0000:0a:00.1 10de 10f7 040300 28 snd_hda_intel snd_hda_intel
	pci_dev "$r" 0000:0a:00.2 10de 1ad6 0c0330 28 xhci_hcd xhci_pci
	pci_dev "$r" 0000:0a:00.3 10de 1ad7 0c8000 28 nvidia-gpu i2c_nvidia_gpu
	# Seed 2's RX 5700 (the boot GPU) and its HDMI audio, in groups of their own.
	pci_dev "$r" 0000:0d:00.0 1002 731f 030000 31 amdgpu amdgpu 1
	pci_dev "$r" 0000:0d:00.1 1002 ab38 040300 32 snd_hda_intel snd_hda_intel
	# A function outside any group is not listed.
	pci_dev "$r" 0000:00:00.0 1022 1480 060000 0 -
}

# A fixture /proc: nothing mounted from the fixture's disks, no swap.
make_proc() {
	local p=$1
	mkdir -p "$p/self"
	echo "22 1 0:21 / / rw,relatime - tmpfs tmpfs rw" >"$p/self/mountinfo"
	printf 'Filename\tType\tSize\tUsed\tPriority\n' >"$p/swaps"
}
