# hookctl on a real kernel: iommu, check, status, prepare/release through a real hookd.
# testbed-timeout: 120
require_bin "$HOOKCTL_BIN"
export HOOKD_CONF_DIR=/etc/hookd NO_COLOR=1
mkdir -p /etc/hookd/vms
hc() { "$HOOKCTL_BIN" --connect test:///default "$@"; }

step "iommu: the GPU's two functions share a group, the split group's bridge is marked"
hc iommu --json >/tmp/iommu.json
python3 - "$GPU_VGA" "$GPU_AUDIO" "$BRIDGE" /tmp/iommu.json <<'PY'
import json, sys
vga, audio, bridge, path = sys.argv[1:]
groups = json.load(open(path))["groups"]
where = {d["address"]: (g["group"], d) for g in groups for d in g["devices"]}
assert where[vga][0] == where[audio][0], "GPU functions in different groups"
assert where[vga][1]["boot_vga"] is True and where[vga][1]["class_name"] == "VGA", where[vga]
assert where[bridge][1]["bridge"] is True, where[bridge]
print("ok: iommu groups as expected")
PY

step "configuration through set, check without hookd"
hc set guest device.ssd.address "$NVME"
hc set gpuonly device.gpu.address "$GPU_VGA"
hc check guest | tee /tmp/check.txt
grep -q "$NVME (ssd) *nvme *-> vfio-pci" /tmp/check.txt || fail "check guest: no nvme -> vfio-pci step"
rc=0; hc check gpuonly >/tmp/check2.txt || rc=$?
cat /tmp/check2.txt
[[ $rc == 1 ]] || fail "check gpuonly: exit $rc, expected 1 (audio function left on the host)"
grep -q "not viable" /tmp/check2.txt || fail "check gpuonly: no viability reason"
rm -f /etc/hookd/vms/gpuonly.ini
assert_driver "$NVME" nvme

step "status: hookd down is exit 3"
rc=0; hc status >/tmp/status.txt || rc=$?
cat /tmp/status.txt
[[ $rc == 3 ]] || fail "status with hookd down: exit $rc"

step "prepare and release by hand through hookd"
hookd_start
hc prepare guest
assert_driver "$NVME" vfio-pci
hc status guest | tee /tmp/status.txt
grep -q "$NVME (ssd) *vfio-pci *was nvme.*on-vfio" /tmp/status.txt || fail "status does not show the NVMe on vfio-pci"
hc release guest
assert_driver "$NVME" nvme
rc=0; hc status guest >/tmp/status.txt || rc=$?
cat /tmp/status.txt
[[ $rc == 0 ]] || fail "status after release: exit $rc"
hookd_stop
