#!/bin/bash
# One stuck unbind must not stall hookd (issue 10 item 1), on the real kernel: snd_hda_intel's unbind waits
# for every open /dev/snd file, so with controlC0 held a prepare of the GPU pair leaves the audio function
# stuck in the kernel with its device lock held. While it is stuck, Status is answered, another VM's devices
# move and come back, and SIGTERM starts hookd's shutdown; once the file is closed hookd exits 0 and a
# release brings everything back.
# testbed-timeout: 240
require_bin "$HOOKCTL_BIN"
export HOOKD_CONF_DIR=/etc/hookd NO_COLOR=1
mkdir -p /etc/hookd/vms

cat >/etc/hookd/hookd.conf <<'INI'
[daemon]
sysfs-timeout = 2
operation-timeout = 20
[hook]
timeout = 30
INI
cat >/etc/hookd/vms/audio.ini <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
cat >/etc/hookd/vms/guest.ini <<INI
[device.ssd]
address = $NVME
INI
chmod 0644 /etc/hookd/hookd.conf /etc/hookd/vms/*.ini

wait_for /dev/snd/controlC0 10
sleep 600 3</dev/snd/controlC0 &
holder=$!
# hookd would refuse the prepare naming that process: its proc root is an empty tree here, so it sees
# nobody, as it cannot see a holder in another PID namespace or one that opened after its re-check.
mkdir -p /tmp/no-processes
hookd_start --proc-root /tmp/no-processes

step "prepare audio with /dev/snd/controlC0 held: the audio function is stuck in the kernel"
rc=0
timeout 60 "$HOOKCTL_BIN" --connect test:///default prepare audio >/tmp/prepare.out 2>&1 || rc=$?
cat /tmp/prepare.out
[[ $rc != 0 && $rc != 124 ]] || fail "prepare audio: exit $rc (expected a failure naming the stuck device)"
grep -q "$GPU_AUDIO" /tmp/prepare.out || fail "prepare's message does not name $GPU_AUDIO"

step "Status is answered while the unbind is stuck (timeout 10 only turns a hang into a failure)"
start=$(date +%s%N)
rc=0
timeout 10 "$HOOKCTL_BIN" --connect test:///default status --json >/tmp/status.json || rc=$?
echo "status answered in $((($(date +%s%N) - start) / 1000000)) ms, exit $rc"
# 1: a VM in an error state or a stuck device, which is the truth here; 124 (timeout) or 3 (no hookd) is not.
[[ $rc == 1 ]] || fail "status while a device is stuck: exit $rc, expected 1"
jq -e '.vms[] | select(.name == "audio") | .engine.state == "stuck"' /tmp/status.json >/dev/null ||
	{ cat /tmp/status.json; fail "status does not say audio is stuck"; }

step "another VM is served: the NVMe moves to vfio-pci and back"
timeout 60 "$HOOKCTL_BIN" --connect test:///default prepare guest || fail "prepare guest while audio is stuck"
assert_driver "$NVME" vfio-pci
timeout 60 "$HOOKCTL_BIN" --connect test:///default release guest || fail "release guest while audio is stuck"
assert_driver "$NVME" nvme

step "SIGTERM: hookd stops taking requests at once, and exits 0 once the kernel lets go"
kill -TERM "$HOOKD_PID"
for ((i = 0; i < 100; i++)); do
	[[ -S /run/hookd/hookd.sock ]] || break
	nap 0.1
done
[[ ! -S /run/hookd/hookd.sock ]] || fail "hookd still has its socket 10 s after SIGTERM"
kill "$holder"
wait "$holder" 2>/dev/null || true
rc=0
timeout 30 tail --pid="$HOOKD_PID" -f /dev/null || fail "hookd did not exit within 30 s of the file being closed"
wait "$HOOKD_PID" || rc=$?
HOOKD_PID=
[[ $rc == 0 ]] || fail "hookd exited with status $rc after SIGTERM"

step "release after the restart: everything back on the host"
hookd_start
timeout 60 "$HOOKCTL_BIN" --connect test:///default release audio || fail "release audio"
assert_driver "$GPU_VGA" bochs-drm
assert_driver "$GPU_AUDIO" snd_hda_intel
assert_vtcon_bound yes
hookd_stop
rm -f /etc/hookd/vms/audio.ini /etc/hookd/vms/guest.ini /etc/hookd/hookd.conf
