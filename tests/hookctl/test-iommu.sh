#!/bin/bash
# hookctl iommu against a fixture sysfs shaped like the seed machines: groups, claims resolved by the
# engine's plan (address, match, whole-group) and viability, human and JSON output golden-compared.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
make_sysfs "$T/sys"
make_proc "$T/proc"
export HOOKCTL_PROC_ROOT=$T/proc
mkdir -p "$HOOKD_CONF_DIR/vms"
cp "$DATA/win10.ini" "$DATA/amd.ini" "$DATA/split.ini" "$HOOKD_CONF_DIR/vms/"
IO="--sysfs-root $T/sys"

step "every group"
# shellcheck disable=SC2086
hc $IO iommu
expect_rc 0 "iommu"
golden iommu.txt "$T/out"
awk 'length > 80 { print "line over 80 columns: " $0; bad = 1 } END { exit bad }' "$T/out" >&2 ||
	fail "human output wider than 80 columns"

step "--vm and --json"
# shellcheck disable=SC2086
hc $IO iommu --vm win10
expect_rc 0 "iommu --vm win10"
golden iommu-win10.txt "$T/out"
# shellcheck disable=SC2086
hc $IO iommu --json
expect_rc 0 "iommu --json"
golden iommu.json "$T/out"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" || fail "--json is not JSON"

step "whole-group = yes makes group 28 viable"
hc set win10 vm.whole-group yes
expect_rc 0 "set vm.whole-group"
# shellcheck disable=SC2086
hc $IO iommu --vm win10
expect_rc 0 "iommu whole-group"
expect_grep "viable for win10" "$T/out" "iommu --vm win10"
grep -q "not viable" "$T/out" && fail "still not viable with whole-group"
expect_grep "0000:0a:00.2 .*win10:" "$T/out" "the group member's claim"

step "unknown VM, no IOMMU"
# shellcheck disable=SC2086
hc $IO iommu --vm nosuchvm
expect_rc 4 "iommu --vm unknown"
expect_grep "nosuchvm" "$T/err" "stderr"
mkdir -p "$T/empty/kernel/iommu_groups" "$T/empty/bus/pci/devices"
hc --sysfs-root "$T/empty" iommu
expect_rc 1 "iommu without groups"
expect_grep "turn the IOMMU on" "$T/err" "stderr"

step "a broken VM file is reported, the rest still shown"
echo "[bogus]" >"$HOOKD_CONF_DIR/vms/broken.ini"
# shellcheck disable=SC2086
hc $IO iommu
expect_rc 0 "iommu with a broken file"
expect_grep "Configuration problems" "$T/out" "stdout"
expect_grep "broken.ini:1: unknown section" "$T/out" "stdout"

finish
