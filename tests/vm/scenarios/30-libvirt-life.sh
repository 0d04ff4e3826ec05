#!/bin/bash
# The whole life of a passthrough VM with a real libvirtd on a real kernel: `virsh create` of a domain
# holding the NVMe (managed='no') runs hookd's hook at prepare, the NVMe goes to vfio-pci and the nested
# QEMU holds its VFIO group; `virsh destroy` brings it back to nvme. A domain whose device's IOMMU group
# cannot be split is refused with hookd's line in virsh's error, and nothing moves.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=libvirt-guest.bash
. "$HOOKD_SRC/tests/vm/libvirt-guest.bash"
require_bin "$HOOKD_BIN"
require_bin "$HOOKCTL_BIN"
export HOOKD_CONF_DIR=/etc/hookd NO_COLOR=1
# Leave the guest as found for the scenarios after this one in the same boot.
cleanup() {
	libvirt_cleanup
	rm -f /etc/hookd/vms/life.ini /etc/hookd/vms/split.ini
}
trap cleanup EXIT

group=$(group_of "$NVME")
# the namespace block devices of an NVMe controller (nvme0n1 ...), from sysfs
namespaces_of() {
	local c n
	for c in "$SYSFS_PCI/$1"/nvme/nvme*; do
		for n in "$c"/nvme*n*; do
			[[ -e "$n" ]] && echo "${n##*/}"
		done
	done
	return 0
}
assert_driver "$NVME" nvme
ns_before=$(namespaces_of "$NVME")
[[ -n "$ns_before" ]] || fail "$NVME has no namespace block device before the test"
echo "NVMe $NVME (IOMMU group $group), namespace: $ns_before"

step "configuration: life holds the NVMe, split holds the NVMe of the group that cannot be split"
mkdir -p /etc/hookd/vms
cat >/etc/hookd/vms/life.ini <<INI
[device.ssd]
address = $NVME
INI
cat >/etc/hookd/vms/split.ini <<INI
[device.disk]
address = $SPLIT_NVME
INI

step "hookd on /etc/hookd and /run/hookd, the hook installed, then libvirtd (hooks are found at its start)"
hookd_start
libvirt_setup
libvirtd_start

step "virsh create life (the first call probes QEMU's capabilities: ~8 s)"
domain_xml life 5a1f0c3e-0000-4000-8000-00000000a001 "$NVME" >/tmp/life.xml
cat /tmp/life.xml
t0=$EPOCHREALTIME
vsh 120 create /tmp/life.xml
t1=$EPOCHREALTIME
state=$(vsh 30 domstate life)
[[ "$state" == running ]] || fail "domain life is '$state', expected running"
echo "ok: life running (create took $(((${t1/./} - ${t0/./}) / 1000)) ms)"

step "the NVMe is on vfio-pci and the nested QEMU holds its group"
assert_driver "$NVME" vfio-pci
assert_override "$NVME" vfio-pci
assert_vfio_dev "$group" present
pid=$(qemu_pid life)
ls -l "/proc/$pid/fd" >/tmp/qemu-fds
grep -E -- "-> /dev/vfio/$group\$" /tmp/qemu-fds || fail "QEMU (pid $pid) does not hold /dev/vfio/$group: $(grep vfio /tmp/qemu-fds)"
grep -q "vfio-device" /tmp/qemu-fds && echo "ok: QEMU also holds a vfio-device fd"
echo "ok: QEMU pid $pid holds /dev/vfio/$group"

step "hookctl status life: the device on vfio-pci, prepare begin ok"
"$HOOKCTL_BIN" status life | tee /tmp/status.txt
grep -Eq "^life: libvirt running, hookd prepared" /tmp/status.txt || fail "status: life is not 'libvirt running, hookd prepared'"
grep -Eq "$NVME \(ssd\) +vfio-pci +was nvme .*on-vfio" /tmp/status.txt || fail "status: the NVMe is not shown on vfio-pci"
"$HOOKCTL_BIN" status life --json >/tmp/status.json
python3 - "$NVME" /tmp/status.json <<'PY'
import json, sys
bdf, path = sys.argv[1:]
vm = {v["name"]: v for v in json.load(open(path))["vms"]}["life"]
assert vm["libvirt_state"] == "running", vm["libvirt_state"]
dev = {d["address"]: d for d in vm["devices"]}[bdf]
assert dev["driver"] == "vfio-pci" and dev["state"] == "on-vfio", dev
events = [(e["op"], e["subop"], e["result"]) for e in vm["last_events"]]
print("events:", events)
assert events == [("prepare", "begin", "ok"), ("start", "begin", "ok"), ("started", "begin", "ok")], events
print("ok: status --json: running, %s on vfio-pci, prepare begin ok then start, started" % bdf)
PY

step "virsh destroy life: the NVMe goes back to nvme"
t0=$EPOCHREALTIME
vsh 60 destroy life
t1=$EPOCHREALTIME
echo "ok: destroyed (destroy took $(((${t1/./} - ${t0/./}) / 1000)) ms)"
vsh 30 domstate life >/dev/null 2>&1 && fail "domain life still exists after destroy"
assert_driver "$NVME" nvme
assert_override "$NVME" ""
assert_vfio_dev "$group" absent
ns_after=$(namespaces_of "$NVME")
[[ -n "$ns_after" ]] || fail "$NVME has no namespace after release"
for ns in $ns_after; do
	wait_for "/dev/$ns" 10
	[[ -b "/dev/$ns" ]] || fail "/dev/$ns is not a block device"
	echo "ok: /dev/$ns is back"
done

step "hookctl status life: on the host, stopped end and release end"
"$HOOKCTL_BIN" status life | tee /tmp/status.txt
grep -Eq "$NVME \(ssd\) +nvme .*on-host" /tmp/status.txt || fail "status: the NVMe is not shown on nvme"
grep -q "last event: release end at .*: ok" /tmp/status.txt || fail "status: the last event is not 'release end ok'"
"$HOOKCTL_BIN" status life --json >/tmp/status.json
python3 - "$NVME" /tmp/status.json <<'PY'
import json, sys
bdf, path = sys.argv[1:]
vm = {v["name"]: v for v in json.load(open(path))["vms"]}["life"]
dev = {d["address"]: d for d in vm["devices"]}[bdf]
assert dev["driver"] == "nvme" and dev["state"] == "on-host", dev
events = [(e["op"], e["subop"], e["result"]) for e in vm["last_events"]]
assert events[-2:] == [("stopped", "end", "ok"), ("release", "end", "ok")], events
print("ok: status --json: %s on nvme; last events stopped end, release end" % bdf)
PY

step "a refused start: split names an NVMe whose group also holds an e1000 on its host driver"
modprobe e1000
split_group=$(group_of "$SPLIT_NVME")
before=""
for bdf in $(group_members "$split_group"); do
	before+="$bdf $(driver_of "$bdf") $(override_of "$bdf");"
done
echo "group $split_group before: $before"
domain_xml split 5a1f0c3e-0000-4000-8000-00000000a002 "$SPLIT_NVME" >/tmp/split.xml
if vsh 60 create /tmp/split.xml >/tmp/split.out 2>&1; then
	fail "virsh create split succeeded, expected hookd to refuse it"
fi
cat /tmp/split.out
grep -Eq "hookd: VM split: $SPLIT_NVME \(disk\): IOMMU group $split_group is not viable, these members must go to the VM too: $SPLIT_E1000 \(8086:100e on e1000\)" /tmp/split.out ||
	fail "virsh's error does not carry hookd's line naming $SPLIT_E1000"
grep -q "$BRIDGE" /tmp/split.out && fail "the bridge $BRIDGE was named as a missing member"
vsh 30 domstate split >/dev/null 2>&1 && fail "domain split exists after a refused start"
after=""
for bdf in $(group_members "$split_group"); do
	after+="$bdf $(driver_of "$bdf") $(override_of "$bdf");"
done
[[ "$after" == "$before" ]] || fail "the refused start changed group $split_group: before [$before] after [$after]"
echo "ok: group $split_group unchanged: $after"
modprobe -r e1000
assert_driver "$SPLIT_E1000" none

step "stop libvirtd and hookd"
libvirtd_stop
hookd_stop
assert_driver "$NVME" nvme
assert_override "$NVME" ""
