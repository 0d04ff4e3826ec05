#!/bin/bash
# Two VMs preparing at once do not interfere; a device claimed by a prepared VM is refused to another,
# naming the first; two VMs racing for one device: exactly one wins.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

vm_config gpuvm <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
vm_config nvmevm <<INI
[device.ssd]
address = $NVME
INI
vm_config thief <<INI
[device.ssd]
address = $NVME
INI

step "GPU VM and NVMe VM prepare at the same time"
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" prepare gpuvm >/tmp/a.out 2>&1 &
a=$!
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" prepare nvmevm >/tmp/b.out 2>&1 &
b=$!
wait "$a" || fail "gpuvm prepare failed: $(cat /tmp/a.out)"
wait "$b" || fail "nvmevm prepare failed: $(cat /tmp/b.out)"
assert_on_vfio "$GPU_VGA"
assert_on_vfio "$GPU_AUDIO"
assert_on_vfio "$NVME"

step "another VM asking for the NVMe: refused, naming nvmevm"
engine_refused "VM thief: $NVME \(ssd\): the device belongs to VM nvmevm" prepare thief
assert_on_vfio "$NVME"

step "both release at the same time"
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" release gpuvm >/tmp/a.out 2>&1 &
a=$!
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" release nvmevm >/tmp/b.out 2>&1 &
b=$!
wait "$a" || fail "gpuvm release failed: $(cat /tmp/a.out)"
wait "$b" || fail "nvmevm release failed: $(cat /tmp/b.out)"
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_on_host "$NVME" nvme
assert_vtcon_bound yes

step "two VMs race for the same NVMe: exactly one wins"
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" prepare nvmevm >/tmp/a.out 2>&1 &
a=$!
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" prepare thief >/tmp/b.out 2>&1 &
b=$!
ra=0 rb=0
wait "$a" || ra=$?
wait "$b" || rb=$?
cat /tmp/a.out /tmp/b.out
if [[ $ra == 0 && $rb != 0 ]]; then
	winner=nvmevm loser_out=/tmp/b.out
elif [[ $ra != 0 && $rb == 0 ]]; then
	winner=thief loser_out=/tmp/a.out
else
	fail "expected exactly one winner, got exit codes $ra and $rb"
fi
grep -q "belongs to VM $winner" "$loser_out" || fail "the loser's message does not name $winner"
assert_on_vfio "$NVME"
engine_ok release nvmevm
engine_ok release thief
assert_on_host "$NVME" nvme
