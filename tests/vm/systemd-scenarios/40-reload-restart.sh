#!/bin/bash
# `hookctl set` + `systemctl reload hookd` applies a changed configuration; `systemctl restart hookd` while
# the VM runs keeps its devices on vfio-pci and `hookctl status` truthful (hookd reads its journals back at
# start); `virsh destroy` afterwards returns everything.
# testbed-timeout: 420
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

gpu_group=$(group_of "$GPU_VGA")
nvme_group=$(group_of "$NVME")

step "relvm: the domain holds the GPU pair and the NVMe; its configuration names only the NVMe"
vm_ini relvm <<INI
[device.ssd]
address = $NVME
INI
define_domain relvm 5a1f0c3e-0000-4000-8000-00000000b003 "$GPU_VGA" "$GPU_AUDIO" "$NVME"
systemctl start hookd.service
assert_unit hookd.service active
hookctl status relvm | tee /tmp/hookctl.txt
grep -q "$GPU_VGA" /tmp/hookctl.txt && fail "relvm already lists the GPU before hookctl set"

step "hookctl set adds the GPU, systemctl reload hookd applies it"
hookctl set relvm device.gpu.address "$GPU_VGA"
hookctl set relvm device.gpu.whole-group yes
hookctl set relvm vm.release-console yes
hookctl cat relvm
pid=$(systemctl show -P MainPID hookd.service)
systemctl reload hookd.service
assert_unit hookd.service active
[[ "$(systemctl show -P MainPID hookd.service)" == "$pid" ]] || fail "reload replaced hookd's process"
systemctl show -P StatusText hookd.service | tee /tmp/statustext
grep -Eq '^Running, [0-9]+ VMs configured' /tmp/statustext || fail "hookd's STATUS after reload is '$(cat /tmp/statustext)'"
hookctl status relvm | tee /tmp/hookctl.txt
grep -q "$GPU_VGA" /tmp/hookctl.txt || fail "hookctl status relvm does not list the GPU after the reload"

step "virsh start relvm: all three on vfio-pci"
vsh 240 start relvm
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	assert_driver "$bdf" vfio-pci
done
assert_qemu_holds relvm "$gpu_group" "$nvme_group"

step "systemctl restart hookd while relvm runs: a new process, the devices stay, the status is true"
systemctl restart hookd.service
assert_unit hookd.service active
pid2=$(systemctl show -P MainPID hookd.service)
[[ "$pid2" != "$pid" && "$pid2" != 0 ]] || fail "restart did not start a new hookd process ($pid -> $pid2)"
echo "ok: hookd pid $pid -> $pid2"
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	assert_driver "$bdf" vfio-pci
	assert_override "$bdf" vfio-pci
done
assert_vtcon_bound no
assert_qemu_holds relvm "$gpu_group" "$nvme_group"
hookctl status relvm | tee /tmp/hookctl.txt
grep -Eq '^relvm: libvirt running, hookd prepared' /tmp/hookctl.txt || fail "after the restart, relvm is not 'libvirt running, hookd prepared'"
grep -Eq "$NVME \(ssd\) +vfio-pci +was nvme" /tmp/hookctl.txt || fail "after the restart, the NVMe is not shown on vfio-pci, was nvme"

step "virsh destroy relvm: the new hookd gives everything back"
vsh 120 destroy relvm
assert_devices_on_host
assert_vtcon_bound yes
hookctl status relvm | tee /tmp/hookctl.txt
grep -q 'last event: release end at .*: ok' /tmp/hookctl.txt || fail "hookctl status: the last event is not 'release end ok'"
