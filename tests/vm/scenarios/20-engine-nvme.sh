#!/bin/bash
# The engine moves an NVMe to vfio-pci and back; the same NVMe with a mounted filesystem is refused and
# nothing changes; a VM with no journal releases as a no-op.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

vm_config disk <<INI
[device.ssd]
address = $NVME
INI
group=$(group_of "$NVME")

step "release with no journal is a no-op"
engine_ok release disk
assert_on_host "$NVME" nvme

step "prepare: NVMe to vfio-pci"
engine_ok prepare disk
assert_on_vfio "$NVME"
assert_status disk prepared

step "prepare again while prepared is refused"
engine_refused "hookd still holds its devices \(prepared\); give them back first with 'hookctl release disk'" prepare disk
assert_on_vfio "$NVME"

step "release: back to nvme"
engine_ok release disk
assert_on_host "$NVME" nvme
assert_vfio_dev "$group" absent
assert_journal_gone disk
engine_ok release disk

step "mounted namespace: refused, nothing changed"
ctrl=$(ls "$SYSFS_PCI/$NVME/nvme")
# nvme0n1, or with native multipath the path device nvme0c0n1 whose disk is nvme0n1
ns=$(ls "$SYSFS_PCI/$NVME/nvme/$ctrl" | grep -E '^nvme[0-9]+(c[0-9]+)?n[0-9]+$' | head -n 1 | sed -E 's/c[0-9]+n/n/')
echo "namespace block device: $ns"
wait_for "/dev/$ns" 10
mkfs.ext4 -q -F "/dev/$ns"
mkdir -p /mnt/ssd
mount "/dev/$ns" /mnt/ssd
engine_refused "$NVME \(ssd\): in use by the host: $ns is mounted on /mnt/ssd" prepare disk
assert_on_host "$NVME" nvme
assert_journal_gone disk
umount /mnt/ssd

step "used as swap: refused"
mkswap -q "/dev/$ns" >/dev/null 2>&1 || mkswap "/dev/$ns"
if swapon "/dev/$ns" 2>/dev/null; then
	engine_refused "$ns is used as swap" prepare disk
	swapoff "/dev/$ns"
	assert_on_host "$NVME" nvme
else
	echo "note: swapon not possible here; swap refusal is covered by the unit tests"
fi
