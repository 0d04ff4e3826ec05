#!/bin/bash
# The testbed's topology is what every other scenario relies on: the IOMMU groups, the boot VGA with the
# framebuffer console on it, and the host drivers bound before anything moves.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }

step "devices found by the runner"
for v in GPU_VGA GPU_AUDIO HOST_VGA NVME BRIDGE SPLIT_E1000 SPLIT_NVME; do
	echo "$v=${!v}"
	[[ -n "${!v}" ]] || fail "$v was not found"
done

step "IOMMU groups"
assert_group_members "$GPU_VGA" "$GPU_AUDIO"
assert_group_members "$NVME"
assert_group_members "$BRIDGE" "$SPLIT_E1000" "$SPLIT_NVME"
for bdf in "$GPU_VGA" "$NVME" "$BRIDGE" "$HOST_VGA"; do
	echo "$bdf: group $(group_of "$bdf")"
done
groups=$(for bdf in "$GPU_VGA" "$NVME" "$BRIDGE" "$HOST_VGA"; do group_of "$bdf"; done | sort -u | wc -l)
[[ $groups == 4 ]] || fail "the guest GPU, the NVMe, the bridge and the host display should be in 4 groups, not $groups"

step "boot VGA and framebuffer console"
[[ "$(<"$SYSFS_PCI/$GPU_VGA/boot_vga")" == 1 ]] || fail "$GPU_VGA: boot_vga is not 1"
echo "ok: $GPU_VGA boot_vga=1"
if [[ -e "$SYSFS_PCI/$HOST_VGA/boot_vga" && "$(<"$SYSFS_PCI/$HOST_VGA/boot_vga")" == 1 ]]; then
	fail "$HOST_VGA (host display) claims boot_vga=1 too"
fi
assert_vtcon_bound yes
fbs=$(fb_of "$GPU_VGA")
[[ -n "$fbs" ]] || fail "no framebuffer belongs to $GPU_VGA"
echo "ok: $GPU_VGA has framebuffer $fbs"
[[ "$(head -n 1 <<<"$fbs")" == fb0 ]] || fail "the console's fb0 is not on the guest GPU $GPU_VGA"

step "host drivers"
assert_driver "$GPU_VGA" bochs-drm
assert_driver "$HOST_VGA" bochs-drm
assert_driver "$GPU_AUDIO" snd_hda_intel
assert_driver "$NVME" nvme
assert_driver "$SPLIT_NVME" nvme
assert_driver "$SPLIT_E1000" none
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$HOST_VGA" "$NVME" "$SPLIT_E1000" "$SPLIT_NVME"; do
	assert_override "$bdf" ""
done
[[ -d /sys/module/vfio_pci ]] && fail "vfio_pci is loaded before any scenario asked for it"
echo "ok: vfio_pci not loaded"
