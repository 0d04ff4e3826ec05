#!/bin/bash
# hookd stopped (socket and service): a configured VM's start fails at once with hookd's one line in
# virsh's error and nothing moves; a VM without configuration starts as if hookd were not there.
# testbed-timeout: 300
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

step "systemctl stop hookd.socket hookd"
vm_ini stopvm <<INI
[device.ssd]
address = $NVME
INI
define_domain stopvm 5a1f0c3e-0000-4000-8000-00000000b004 "$NVME"
define_domain plainvm 5a1f0c3e-0000-4000-8000-00000000b005
systemctl stop hookd.socket hookd.service
assert_unit hookd.socket inactive
assert_unit hookd.service inactive
assert_no_hookd
[[ ! -e /run/hookd/hookd.sock ]] || fail "/run/hookd/hookd.sock is still there"

step "virsh start stopvm (configured): refused at once with hookd's line"
t0=$EPOCHREALTIME
if vsh 120 start stopvm >/tmp/start.out 2>&1; then
	fail "virsh start stopvm succeeded while hookd is stopped"
fi
t1=$EPOCHREALTIME
cat /tmp/start.out
echo "refused after $(((${t1/./} - ${t0/./}) / 1000)) ms"
grep -Fq "hookd: VM stopvm is configured for hookd but the daemon is not running (start it with: systemctl start hookd.socket)" /tmp/start.out ||
	fail "virsh's error does not carry hookd's line"
[[ "$(vsh 30 domstate stopvm)" == "shut off" ]] || fail "stopvm is not shut off"
assert_no_hookd
assert_devices_on_host

step "virsh start plainvm (no configuration): it starts"
vsh 120 start plainvm
[[ "$(vsh 30 domstate plainvm)" == running ]] || fail "plainvm is not running"
assert_no_hookd
vsh 60 destroy plainvm

step "the socket back: listening, no hookd process"
systemctl start hookd.socket
assert_unit hookd.socket active
assert_unit hookd.service inactive
assert_no_hookd
vsh 30 undefine stopvm
vsh 30 undefine plainvm
rm -f /etc/hookd/vms/stopvm.ini
assert_devices_on_host
