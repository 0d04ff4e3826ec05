#!/bin/bash
# The package installs on a host that already has a VFIO-Tools style hook: hookd.socket is enabled and
# listening, no hookd process runs until the first hook call, nothing is active in /etc/hookd/vms, and no
# device moved. What the host looked like before is kept for 70-purge.
# testbed-timeout: 600
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"

step "before: hookd is not installed, libvirtd runs, every device is on its host driver"
hookd_installed && fail "hookd is installed before the install scenario"
# libvirtd.service runs with --timeout 120 (libvirt-daemon-system): started at boot, it may have exited
# again on a slow boot; a virsh call starts it through libvirtd.socket.
vsh 300 list --all >/dev/null
wait_unit libvirtd.service active 120
assert_devices_on_host

step "the user's existing hook: the VFIO-Tools dispatcher and a script for VM legacy"
legacy_hook_setup
cat /etc/libvirt/hooks/qemu
host_snapshot >"$TESTBED_STATE/before-install.txt"
cat "$TESTBED_STATE/before-install.txt"

step "apt install the package"
install_hookd
dpkg -L hookd | grep -E '/(hookd|hookctl|hookd-hook|hookd\.socket|hookd\.service)$'

step "hookd.socket: enabled, active, listening on /run/hookd/hookd.sock (0660); hookd.service not started"
[[ "$(systemctl is-enabled hookd.socket)" == enabled ]] || fail "hookd.socket is $(systemctl is-enabled hookd.socket), not enabled"
assert_unit hookd.socket active
assert_unit hookd.service inactive
[[ -S /run/hookd/hookd.sock ]] || fail "/run/hookd/hookd.sock is not a socket"
[[ "$(stat -c '%a %U %G' /run/hookd/hookd.sock)" == "660 root root" ]] ||
	fail "/run/hookd/hookd.sock is $(stat -c '%a %U %G' /run/hookd/hookd.sock), expected 660 root root"
ss -xlp | grep -F /run/hookd/hookd.sock | tee /tmp/listen.txt
grep -q 'users:(("systemd",pid=1,' /tmp/listen.txt || fail "systemd (pid 1) does not listen on /run/hookd/hookd.sock"
assert_no_hookd

step "nothing active in /etc/hookd/vms"
ls -la /etc/hookd /etc/hookd/vms 2>&1 || true
if compgen -G '/etc/hookd/vms/*.ini' >/dev/null; then
	fail "the package installed an active VM configuration: $(echo /etc/hookd/vms/*.ini)"
fi
echo "ok: no /etc/hookd/vms/*.ini"

step "libvirtd restarted, as README says (libvirt finds a new hook only when it starts): still no hookd"
systemctl restart libvirtd.service
wait_unit libvirtd.service active 60
vsh 60 list --all
assert_no_hookd
assert_unit hookd.service inactive
assert_devices_on_host
