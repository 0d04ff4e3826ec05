#!/bin/bash
# Boot: a domain marked `virsh autostart` comes up at boot with its devices moved. The units order hookd
# before libvirtd (hookd.socket and hookd.service Before=libvirtd.service); the first boot defines the
# domain and asks for a reboot of the same disk, the second checks what the boot did.
# testbed-timeout: 720
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

gpu_group=$(group_of "$GPU_VGA")
nvme_group=$(group_of "$NVME")

if [[ ! -e "$TESTBED_STATE/autostart-defined" ]]; then
	step "boot $TESTBED_BOOT: the units' ordering, then autovm defined and marked autostart"
	for unit in hookd.socket hookd.service; do
		before=$(systemctl show -P Before "$unit")
		echo "$unit Before=$before"
		[[ " $before " == *" libvirtd.service "* ]] || fail "$unit is not ordered before libvirtd.service"
	done
	[[ "$(systemctl is-enabled hookd.socket)" == enabled ]] || fail "hookd.socket is not enabled"
	vm_ini autovm <<INI
[vm]
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes

[device.ssd]
address = $NVME
INI
	define_domain autovm 5a1f0c3e-0000-4000-8000-00000000b006 "$GPU_VGA" "$GPU_AUDIO" "$NVME"
	vsh 30 autostart autovm
	vsh 30 dominfo autovm | grep -E '^Autostart: +enable' || fail "autovm is not marked autostart"
	assert_devices_on_host
	: >"$TESTBED_STATE/autostart-defined"
	request_reboot
fi

step "boot $TESTBED_BOOT: autovm came up by itself, with its devices moved"
# boot_story: what libvirtd and hookd said in this boot, for a failure to show why.
boot_story() {
	journalctl -b --no-pager -q -o short-monotonic -u libvirtd.service -u hookd.service -u hookd.socket | tail -n 80
}
# libvirtd starts autovm while the boot goes on; under TCG on a loaded machine the boot alone can take two
# minutes, and the prepare one more. Wait until libvirt is done with it: running, or its start failed.
end=$((SECONDS + 420))
until [[ "$(vsh 30 domstate autovm 2>/dev/null)" == running ]]; do
	if journalctl -b --no-pager -q -o cat -u libvirtd.service | grep -q "Failed to autostart VM 'autovm'"; then
		boot_story
		fail "libvirtd's autostart of autovm failed in this boot (its journal is above)"
	fi
	if ((SECONDS >= end)); then
		boot_story
		fail "autovm is '$(vsh 30 domstate autovm)' 420 s after the runner started, expected running"
	fi
	nap 2
done
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	assert_driver "$bdf" vfio-pci
	assert_override "$bdf" vfio-pci
done
assert_vtcon_bound no
assert_qemu_holds autovm "$gpu_group" "$nvme_group"

step "this boot's order: hookd.socket listening before libvirtd started; the hook's first call worked"
sock=$(systemctl show -P ActiveEnterTimestampMonotonic hookd.socket)
libvirtd=$(systemctl show -P ExecMainStartTimestampMonotonic libvirtd.service)
echo "hookd.socket active at ${sock} us, libvirtd started at ${libvirtd} us (monotonic)"
((sock > 0 && libvirtd > 0 && sock < libvirtd)) || fail "hookd.socket was not listening before libvirtd started"
journalctl -b --no-pager -q -o short-monotonic -u hookd.socket -u hookd.service -u libvirtd.service | head -n 40
journal_lines -b VM=autovm | tee /tmp/journal.txt
grep -q 'moved from nvme to vfio-pci' /tmp/journal.txt || fail "this boot's journal has no move of the NVMe for autovm"
if journalctl -b --no-pager -q -o cat SYSLOG_IDENTIFIER=hookd VM=autovm -p err | grep .; then
	fail "hookd logged errors for autovm during the boot"
fi
hookctl status autovm | tee /tmp/hookctl.txt
grep -Eq '^autovm: libvirt running, hookd prepared' /tmp/hookctl.txt || fail "hookctl status: autovm is not 'libvirt running, hookd prepared'"
[[ "$(systemctl show -P NRestarts hookd.service)" == 0 ]] || fail "hookd.service restarted during the boot"

step "autostart off, destroy: everything back"
vsh 30 autostart --disable autovm
vsh 120 destroy autovm
vsh 30 undefine autovm
rm -f /etc/hookd/vms/autovm.ini
assert_devices_on_host
assert_vtcon_bound yes
