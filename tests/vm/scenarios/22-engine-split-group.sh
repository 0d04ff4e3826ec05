#!/bin/bash
# A device of a group that cannot be split: refused while another member is on a host driver, the member
# named; with whole-group = yes every endpoint moves (the bridge stays) and comes back.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

assert_group_members "$SPLIT_NVME" "$BRIDGE" "$SPLIT_E1000"
modprobe e1000
assert_driver "$SPLIT_E1000" e1000
bridge_driver=$(driver_of "$BRIDGE")

step "the NVMe alone: refused, naming the e1000"
vm_config split <<INI
[device.disk]
address = $SPLIT_NVME
INI
engine_refused "$SPLIT_NVME \(disk\): IOMMU group [0-9]+ is not viable.*$SPLIT_E1000 \(8086:100e on e1000\)" prepare split
grep -q "$BRIDGE" "$ENGINE_OUT" && fail "the bridge was named as a missing member"
assert_on_host "$SPLIT_NVME" nvme
assert_on_host "$SPLIT_E1000" e1000
assert_journal_gone split

step "whole-group = yes: NVMe and e1000 move, the bridge stays"
vm_config split <<INI
[device.disk]
address = $SPLIT_NVME
whole-group = yes
INI
engine_ok prepare split
assert_on_vfio "$SPLIT_NVME"
assert_on_vfio "$SPLIT_E1000"
assert_driver "$BRIDGE" "$bridge_driver"
assert_override "$BRIDGE" ""

step "release: both back"
engine_ok release split
assert_on_host "$SPLIT_NVME" nvme
assert_on_host "$SPLIT_E1000" e1000

step "put the e1000 back as the testbed had it (no driver)"
modprobe -r e1000
assert_driver "$SPLIT_E1000" none
