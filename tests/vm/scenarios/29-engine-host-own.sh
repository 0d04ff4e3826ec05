#!/bin/bash
# The host's own devices are refused before anything changes, on the real kernel: a PCIe root port and the
# PCIe-to-PCI bridge named in a VM file, and the NVMe while a program holds its block device open
# exclusively (the kernel is asked with a read-only O_EXCL open, not a list of storage layers).
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

root_port=$(basename "$(dirname "$(readlink -f "$SYSFS_PCI/$NVME")")")
echo "the NVMe's root port: $root_port"

step "a root port and the PCIe-to-PCI bridge are refused, nothing changes"
for dev in "$root_port" "$BRIDGE"; do
	before=$(driver_of "$dev")
	vm_config own <<INI
[device.port]
address = $dev
INI
	engine_refused "$dev \(port\): it is a PCI bridge or root port" prepare own
	engine check own || true
	grep -Eq '"ok": ?false' "$ENGINE_OUT" || fail "check of $dev did not refuse"
	assert_driver "$dev" "$before"
	assert_journal_gone own
done

step "the NVMe held open exclusively by a program: refused, nothing changes"
vm_config disk <<INI
[device.ssd]
address = $NVME
INI
ctrl=$(ls "$SYSFS_PCI/$NVME/nvme")
ns=$(ls "$SYSFS_PCI/$NVME/nvme/$ctrl" | grep -E '^nvme[0-9]+(c[0-9]+)?n[0-9]+$' | head -n 1 | sed -E 's/c[0-9]+n/n/')
wait_for "/dev/$ns" 10
python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
open("/tmp/held-excl", "w").close()
time.sleep(600)' "/dev/$ns" &
holder=$!
wait_for /tmp/held-excl 20
engine_refused "$NVME \(ssd\): in use by the host: $ns is held open exclusively" prepare disk
assert_on_host "$NVME" nvme
assert_journal_gone disk
kill "$holder"
wait "$holder" 2>/dev/null || true

step "let go: the same NVMe moves, and comes back"
engine_ok prepare disk
assert_on_vfio "$NVME"
engine_ok release disk
assert_on_host "$NVME" nvme
