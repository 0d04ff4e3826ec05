#!/bin/bash
# The user's own story, in the systemd guest (a Debian 12 host with libvirt-daemon-system): the commands of
# README's "Install and use on a real host", as written there, run as root (so without their `sudo`):
# install the package (which enables the socket), write the VM's file with hookctl init, check it, start
# the VM, status, destroy it, status again. No wrapper, no hand-started daemon: systemd starts hookd on the hook's
# first call. Run by tests/vm/demo (tests/vm/testbed --guest systemd --demo).
# testbed-timeout: 600
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/demo" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"

# say COMMAND...: show a README command as the user types it, then run it.
say() {
	printf '\n\033[1m# %s\033[0m\n' "$*"
	"$@"
}
note() {
	printf '\n== %s\n' "$*"
}

note "A Debian 12 host: systemd, libvirtd (libvirt-daemon-system) running, and a VM win10 defined with the
   guest GPU (VGA with the boot console + its HDMI-style audio) and the NVMe as managed='no' hostdevs."
systemctl --no-pager is-active libvirtd.service
define_domain win10 5a1f0c3e-0000-4000-8000-00000000d001 "$GPU_VGA" "$GPU_AUDIO" "$NVME" >/dev/null
vsh 30 list --all
# The package is where README builds it: build-deb/ (the testbed put it on the results share).
cd "${HOOKD_DEB%/build-deb/*}" || fail "no package directory"

say apt install ./build-deb/hookd_*.deb
say hookctl init win10
say hookctl check win10
note "The package enabled and started hookd.socket; nothing runs hookd yet."
systemctl --no-pager status hookd.socket hookd.service | grep -E '^[●○×]|Active:|Listen:|Triggers:' || true
say virsh start win10
say hookctl status
note "What the kernel says: the devices on vfio-pci, QEMU holding their VFIO groups, hookd in the journal."
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	echo "$bdf: driver $(driver_of "$bdf")"
done
find "/proc/$(qemu_pid win10)/fd" -lname '/dev/vfio/*' -printf 'QEMU holds %l\n' | sort -u
systemctl --no-pager status hookd.service | grep -E 'Active:|Status:'
journalctl --no-pager -o cat VM=win10
say virsh destroy win10
say hookctl status
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	echo "$bdf: driver $(driver_of "$bdf")"
done
assert_devices_on_host >/dev/null
note "Every device is back on its host driver."
