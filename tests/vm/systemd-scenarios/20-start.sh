#!/bin/bash
# A persistent domain holding the guest GPU (VGA + audio, release-console) and the NVMe (managed='no'):
# `virsh define` + `virsh start` runs hookd's hook, whose first call starts hookd through its socket; the
# devices move, QEMU holds their VFIO groups, systemd shows hookd's STATUS line and the journal finds the
# moves by hookd's fields (VM=, PCI_ADDRESS=). `virsh destroy` gives everything back.
# testbed-timeout: 420
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

gpu_group=$(group_of "$GPU_VGA")
nvme_group=$(group_of "$NVME")

step "configuration and domain gpuvm: the GPU pair and the NVMe"
vm_ini gpuvm <<INI
[vm]
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes

[device.ssd]
address = $NVME
INI
define_domain gpuvm 5a1f0c3e-0000-4000-8000-00000000b001 "$GPU_VGA" "$GPU_AUDIO" "$NVME"
[[ "$(vsh 30 domstate gpuvm)" == "shut off" ]] || fail "gpuvm is not defined and shut off"
assert_unit hookd.service inactive
assert_no_hookd
assert_vtcon_bound yes

step "virsh start gpuvm: the hook's first call starts hookd through hookd.socket"
since=$(date '+%Y-%m-%d %H:%M:%S')
t0=$EPOCHREALTIME
vsh 240 start gpuvm
t1=$EPOCHREALTIME
echo "virsh start took $(((${t1/./} - ${t0/./}) / 1000)) ms"
[[ "$(vsh 30 domstate gpuvm)" == running ]] || fail "gpuvm is not running"
assert_unit hookd.service active
journalctl --no-pager -q -o cat --since "$since" _PID=1 | grep -E 'hookd' | tee /tmp/pid1.txt
grep -q 'Started hookd.service' /tmp/pid1.txt || fail "systemd did not log starting hookd.service at the hook's call"

step "the devices are on vfio-pci, the console released, QEMU holds the groups"
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	assert_driver "$bdf" vfio-pci
	assert_override "$bdf" vfio-pci
done
assert_vfio_dev "$gpu_group" present
assert_vfio_dev "$nvme_group" present
assert_vtcon_bound no
assert_qemu_holds gpuvm "$gpu_group" "$nvme_group"
assert_driver "$HOST_VGA" bochs-drm

step "systemctl status hookd shows hookd's STATUS line"
systemctl status --no-pager -n 0 hookd.service | tee /tmp/status.txt || true
grep -Eq '^ +Status: "Running' /tmp/status.txt || fail "systemctl status hookd has no 'Status: \"Running...' line"
grep -Eq '^TriggeredBy: .*hookd.socket' /tmp/status.txt || fail "systemctl status hookd does not say it was triggered by hookd.socket"

step "journalctl VM=gpuvm finds the moves through hookd's fields"
journal_lines VM=gpuvm | tee /tmp/journal.txt
grep -q 'moved from nvme to vfio-pci' <(journal_lines VM=gpuvm PCI_ADDRESS="$NVME") ||
	fail "journalctl VM=gpuvm PCI_ADDRESS=$NVME has no 'moved from nvme to vfio-pci'"
grep -q 'moved from bochs-drm to vfio-pci' <(journal_lines VM=gpuvm PCI_ADDRESS="$GPU_VGA") ||
	fail "journalctl VM=gpuvm PCI_ADDRESS=$GPU_VGA has no 'moved from bochs-drm to vfio-pci'"
grep -q 'moved from snd_hda_intel to vfio-pci' <(journal_lines VM=gpuvm PCI_ADDRESS="$GPU_AUDIO") ||
	fail "journalctl VM=gpuvm PCI_ADDRESS=$GPU_AUDIO has no 'moved from snd_hda_intel to vfio-pci'"
echo "ok: the journal names each move by VM and PCI address"

step "hookctl status gpuvm"
hookctl status gpuvm | tee /tmp/hookctl.txt
grep -Eq '^gpuvm: libvirt running, hookd prepared' /tmp/hookctl.txt || fail "hookctl status: gpuvm is not 'libvirt running, hookd prepared'"

step "virsh destroy gpuvm: everything back"
vsh 120 destroy gpuvm
assert_devices_on_host
assert_vtcon_bound yes
hookctl status gpuvm | tee /tmp/hookctl.txt
grep -q 'last event: release end at .*: ok' /tmp/hookctl.txt || fail "hookctl status: the last event is not 'release end ok'"
