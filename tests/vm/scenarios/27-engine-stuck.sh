#!/bin/bash
# An unbind that blocks (snd_hda_intel waits for every open /dev/snd file): past sysfs-timeout the prepare
# fails naming the device and "the kernel did not finish unbinding", status says stuck, and once the file
# is closed a release brings everything back.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

vm_config audio <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
wait_for /dev/snd/controlC0 10
sleep 600 3</dev/snd/controlC0 &
holder=$!

step "prepare with /dev/snd/controlC0 held open, sysfs-timeout 2 s"
# The tool prints its message and exits; its abandoned writer thread keeps the process until the kernel
# lets go, so it runs in the background and the message is awaited.
# The holder check would refuse this prepare naming the process: its proc root here is an empty tree, so it
# sees nobody, as it cannot see a holder in another PID namespace or one that opened after its re-check.
mkdir -p /tmp/no-processes
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" --proc-root /tmp/no-processes --sysfs-timeout 2000 prepare audio \
	>/tmp/stuck.out 2>&1 &
tool=$!
for ((i = 0; i < 300; i++)); do
	grep -q "did not finish" /tmp/stuck.out && break
	sleep 0.1
done
cat /tmp/stuck.out
grep -q "VM audio: $GPU_AUDIO (gpu+group): the kernel did not finish unbinding it from snd_hda_intel within 2000 ms" \
	/tmp/stuck.out || fail "no stuck message within 30 s"
"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" status audio >/tmp/status.out 2>&1
cat /tmp/status.out
jq -e --arg a "$GPU_AUDIO" '.vms[0].state == "stuck" and ([.vms[0].devices[] | select(.address == $a)][0].state == "stuck")' /tmp/status.out >/dev/null || fail "status does not say stuck"

step "close the file: the unbind completes; release brings the device back"
kill "$holder"
wait "$holder" 2>/dev/null || true
wait "$tool" || true
engine_ok release audio
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_vtcon_bound yes
assert_journal_gone audio
