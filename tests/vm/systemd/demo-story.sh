#!/bin/bash
# The user's own story, in the systemd guest (a Debian 12 host with libvirt-daemon-system): the commands of
# README's "Install and use on a real host", as written there, run as root (so without their `sudo`; the
# prompt shown is root's '#'): install the package (which enables and starts the socket), look at the
# socket, define the VM, write its file with hookctl init, check it, start the VM, status, destroy it,
# status again. No wrapper, no hand-started daemon: systemd starts hookd on the hook's first call. Run by
# tests/vm/demo (tests/vm/testbed --guest systemd --demo); a command that fails ends the demo with its status.
# testbed-timeout: 900
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/demo" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"

# say COMMAND...: show a README command as root types it, then run it; its failure ends the demo, named.
say() {
	printf '\n\033[1m# %s\033[0m\n' "$*"
	local rc=0
	"$@" || rc=$?
	((rc == 0)) || fail "'$*' exited with status $rc"
}
note() {
	printf '\n== %s\n' "$*"
}
drivers() {
	local bdf override
	for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
		override=$(override_of "$bdf")
		echo "$bdf: driver $(driver_of "$bdf"), driver_override ${override:-(unset)}"
	done
}

note "A Debian 12 host: systemd, libvirt-daemon-system (systemd starts libvirtd on the first virsh call
   through libvirtd.socket, and it exits after 2 idle minutes), no hookd yet."
systemctl --no-pager list-units --all 'libvirtd*' | grep -E 'libvirtd(\.service|\.socket)' || true
drivers

# README builds the package into build-deb/ of the checkout; the testbed put it on the results share.
cd "${HOOKD_DEB%/build-deb/*}" || fail "no package directory for $HOOKD_DEB"
say apt install ./build-deb/hookd_*.deb
say systemctl --no-pager status hookd.socket
note "No hookd process yet: the socket starts hookd on the first request (here hookctl init's reload)."
systemctl --no-pager status hookd.service | grep -E '^[●○×]|Active:|TriggeredBy:' || true

note "The VM: win10.xml, the guest GPU (VGA with the boot console + its HDMI-style audio) and the NVMe as
   <hostdev managed='no'> (hookd moves them, not libvirt). libvirt probes QEMU on its first use: slow under TCG."
domain_xml win10 5a1f0c3e-0000-4000-8000-00000000d001 "$GPU_VGA" "$GPU_AUDIO" "$NVME" >win10.xml
cat win10.xml
say virsh define win10.xml
say hookctl init win10
cat /etc/hookd/vms/win10.ini
say hookctl check win10

say virsh start win10
say hookctl status
note "What the kernel and systemd say: the devices on vfio-pci, QEMU holding their VFIO groups, hookd
   started by its socket, the moves in the journal by hookd's fields."
drivers
find "/proc/$(qemu_pid win10)/fd" -lname '/dev/vfio/*' -printf 'QEMU holds %l\n' | sort -u
systemctl --no-pager status -n 0 hookd.service | grep -E 'Active:|TriggeredBy:|Status:'
journalctl --no-pager -o cat VM=win10

say virsh destroy win10
say hookctl status
drivers
assert_devices_on_host >/dev/null
note "Every device is back on its host driver."
