#!/bin/bash
# A VM that takes its devices from the domain XML (devices-from-xml = yes, the man page's example) is a valid
# configuration: status and iommu describe it, with its <hostdev> devices when libvirt has the domain, and
# list no configuration problem; check takes the XML from libvirt or from --xml FILE.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
make_sysfs "$T/sys"
make_proc "$T/proc"
export HOOKCTL_PROC_ROOT=$T/proc HOOKCTL_RUN_DIR=$T/run TZ=UTC
mkdir -p "$HOOKD_CONF_DIR/vms" "$T/run"
example='[vm]
devices-from-xml = yes
whole-group = yes'
# win10 is a domain of libvirt's test driver (node.xml) with three PCI hostdevs; nodomain is not.
echo "$example" >"$HOOKD_CONF_DIR/vms/win10.ini"
echo "$example" >"$HOOKD_CONF_DIR/vms/nodomain.ini"
IO="--sysfs-root $T/sys --connect test://$DATA/node.xml"

step "status: the man page's example is no configuration problem"
# shellcheck disable=SC2086
hc $IO status
expect_rc 3 "status with hookd down"
grep -q "Configuration problems" "$T/out" && fail "status lists a problem: $(cat "$T/out")"
expect_grep "devices from the domain XML (<hostdev>), as libvirt has it now" "$T/out" "win10 in status"
expect_grep "0000:0a:00.0 (hostdev)" "$T/out" "win10's hostdev in status"
expect_grep "0000:0a:00.2 (hostdev+group)" "$T/out" "win10's whole group in status"
expect_grep "not shown: libvirt has no domain 'nodomain'" "$T/out" "nodomain in status"
# shellcheck disable=SC2086
hc $IO status win10 --json
expect_grep '"devices_from_xml": true' "$T/out" "JSON"
expect_grep '"domain_xml": "libvirt"' "$T/out" "JSON"
tr -d ' \n' <"$T/out" >"$T/flat"
expect_grep '"problems":\[\]' "$T/flat" "JSON problems"

step "iommu: no problem listed, the hostdevs claimed by their VM"
# shellcheck disable=SC2086
hc $IO iommu
expect_rc 0 "iommu"
grep -q "problems" "$T/out" "$T/err" && fail "iommu lists a problem: $(cat "$T/out" "$T/err")"
expect_grep "win10" "$T/out" "iommu's claims"

step "check with the XML from libvirt, and with --xml FILE"
# shellcheck disable=SC2086
hc $IO check win10
expect_grep "0000:0a:00.0 (hostdev)" "$T/out" "check win10's plan"
expect_grep "0000:04:00.0 (hostdev)" "$T/out" "check win10's plan"
# shellcheck disable=SC2086
hc $IO check nodomain --xml "$DATA/amd-domain.xml"
expect_grep "0000:0d:00.0 (hostdev)" "$T/out" "check --xml's plan"
expect_grep "0000:0d:00.1 (hostdev)" "$T/out" "check --xml's plan"
# amd-domain.xml's 0d:00.0 and 0d:00.1 are managed='yes': libvirt would move them too; its 03:01.0 is not
expect_rc 1 "check of hostdevs libvirt manages"
expect_grep "VM nodomain: 0000:0d:00.0 (hostdev) is a <hostdev managed='yes'> in the domain XML: libvirt would move it too, and back before hookd; set managed='no' on it (virsh edit nodomain)" "$T/out" "the managed refusal"
expect_grep "0000:0d:00.1 (hostdev) is a <hostdev managed='yes'>" "$T/out" "the managed refusal"
grep -q "0000:03:01.0 (hostdev) is a <hostdev managed" "$T/out" && fail "managed='no' refused: $(cat "$T/out")"
# shellcheck disable=SC2086
hc $IO check nodomain
expect_rc 1 "check without any XML"
expect_grep "takes all its devices from the domain XML: nothing to check without it" "$T/err" "stderr"
# shellcheck disable=SC2086
hc $IO check nodomain --xml "$T/missing.xml"
expect_rc 1 "check --xml of a missing file"
expect_grep "cannot read $T/missing.xml: No such file" "$T/err" "stderr"

step "check of a VM whose CPUs come from <cputune> (vm-cpus = auto): the XML is read from libvirt too"
mkdir -p "$T/sys/devices/system/cpu" "$T/sys/devices/virtual/workqueue"
echo 0-3 >"$T/sys/devices/system/cpu/online"
echo f >"$T/sys/devices/virtual/workqueue/cpumask"
mkdir -p "$T/proc/irq/5"
echo 0-3 >"$T/proc/irq/5/smp_affinity_list"
printf '[vm]\nisolate-cpus = yes\nsteer-irqs = yes\n[device.ssd]\naddress = 04:00.0\n' >"$HOOKD_CONF_DIR/vms/pinned.ini"
# shellcheck disable=SC2086
hc $IO check pinned
expect_rc 0 "check pinned"
grep -q "needs the domain XML" "$T/out" "$T/err" && fail "check did not read pinned's XML: $(cat "$T/out")"
expect_grep "^    affinity of IRQ 5: 0-3 -> without CPUs 2-3$" "$T/out" "a host IRQ steered off pinned's CPUs"
expect_grep "^    AllowedCPUs of system.slice: (cannot be read) -> without CPUs 2-3$" "$T/out" "system.slice planned for pinned's CPUs"
expect_grep "^    unbound workqueues' cpumask, workqueue: f -> without CPUs 2-3$" "$T/out" "the workqueue mask planned"
printf '[vm]\nisolate-cpus = yes\n[device.ssd]\naddress = 04:00.0\n' >"$HOOKD_CONF_DIR/vms/nodomain.ini"
# shellcheck disable=SC2086
hc $IO check nodomain
expect_rc 1 "check of vm-cpus = auto without a domain"
expect_grep "libvirt has no domain 'nodomain': the domain XML of VM 'nodomain' is not read" "$T/err" "the note"
expect_grep "vm-cpus = auto needs the domain XML" "$T/out" "the refusal"

finish
