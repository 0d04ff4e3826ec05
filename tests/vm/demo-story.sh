#!/bin/bash
# The demo's story (run in the guest by tests/vm/demo after demo.sh): a VM holding the boot GPU (VGA +
# audio, with its framebuffer console) and the NVMe, started and destroyed through a real libvirtd, with
# hookd moving the devices. Each step says in one line what it shows, then prints the real command output.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=libvirt-guest.bash
. "$HOOKD_SRC/tests/vm/libvirt-guest.bash"
require_bin "$HOOKD_BIN"
require_bin "$HOOKCTL_BIN"
export HOOKD_CONF_DIR=/etc/hookd
# Leave the guest as found for the scenarios after this one in the same boot.
cleanup() {
	libvirt_cleanup
	rm -f /etc/hookd/vms/story.ini
}
trap cleanup EXIT

bold='' dim='' plain=''
if [[ -z "${NO_COLOR:-}" ]]; then
	bold=$'\033[1m' dim=$'\033[2m' plain=$'\033[0m'
fi
say() {
	printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}
# shown CMDLINE CMD...: print CMDLINE as a user would type it, then run CMD and show its real output.
shown() {
	printf '%s# %s%s\n' "$dim" "$1" "$plain"
	shift
	"$@"
}
hookctl() {
	shown "hookctl $*" "$HOOKCTL_BIN" "$@"
}
virsh_() { # SECS ARGS...: virsh, bounded
	shown "virsh ${*:2}" vsh "$@"
}
drivers() {
	local bdf
	for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
		printf '  %s  driver %-14s driver_override %s\n' "$bdf" "$(driver_of "$bdf")" "$(override_of "$bdf" | sed 's/^$/(none)/')"
	done
	printf '  framebuffer console bound: %s\n' "$(vtcon_bound && echo yes || echo no)"
}

say "The VM 'story' gets the boot GPU (both functions) and the NVMe: one INI file, written by hand here"
mkdir -p /etc/hookd/vms
cat >/etc/hookd/vms/story.ini <<INI
[vm]
# the boot GPU shows the console: hookd unbinds it before the GPU leaves, binds it again after
release-console = yes

[device.gpu]
address = $GPU_VGA
# the audio function shares the GPU's IOMMU group: it must go too
whole-group = yes

[device.ssd]
address = $NVME
INI
shown "cat /etc/hookd/vms/story.ini" cat /etc/hookd/vms/story.ini

say "Start hookd, install its hook as /etc/libvirt/hooks/qemu, start libvirtd (in this guest, as root)"
hookd_start >/dev/null
libvirt_setup >/dev/null
libvirtd_start >/dev/null
hook=$([[ -L "$LIBVIRT_HOOK" ]] && echo "a link to $(readlink "$LIBVIRT_HOOK")" || echo "a wrapper around $HOOKD_HOOK_BIN")
echo "hookd pid $HOOKD_PID, libvirtd pid $LIBVIRTD_PID; $LIBVIRT_HOOK is $hook"

say "Before: every device is on its host driver"
hookctl status
drivers

say "The IOMMU groups the VM touches: the GPU's two functions share one, the NVMe is alone"
hookctl iommu --vm story

say "What prepare would do, without doing it"
hookctl check story

say "virsh create: libvirt runs the hook at 'prepare begin', hookd moves the devices, then QEMU starts"
domain_xml story 5a1f0c3e-0000-4000-8000-00000000d000 "$GPU_VGA" "$GPU_AUDIO" "$NVME" >/tmp/story.xml
grep hostdev /tmp/story.xml
t0=$EPOCHREALTIME
virsh_ 180 create /tmp/story.xml
t1=$EPOCHREALTIME
echo "(took $(((${t1/./} - ${t0/./}) / 1000)) ms; the first libvirt start probes QEMU's capabilities)"
virsh_ 30 list
drivers

say "During: the VM runs, its devices are on vfio-pci, and its QEMU holds their VFIO groups"
hookctl status story
pid=$(qemu_pid story)
printf '%s# find /proc/%s/fd -lname "*vfio*" (QEMU pid %s)%s\n' "$dim" "$pid" "$pid" "$plain"
find "/proc/$pid/fd" -lname '*vfio*' -printf '  fd %f -> %l\n' | sort -k2n

say "virsh destroy: QEMU stops, libvirt runs the hook at 'stopped end' and 'release end', hookd gives everything back"
t0=$EPOCHREALTIME
virsh_ 60 destroy story
t1=$EPOCHREALTIME
echo "(took $(((${t1/./} - ${t0/./}) / 1000)) ms)"
drivers

say "After: everything back on its host driver, the console bound again"
hookctl status story

say "What hookd logged"
cat "$HOOKD_LOG"

libvirtd_stop >/dev/null
hookd_stop >/dev/null
assert_driver "$NVME" nvme >/dev/null
assert_driver "$GPU_VGA" bochs-drm >/dev/null
assert_driver "$GPU_AUDIO" snd_hda_intel >/dev/null
say "Done: a passthrough VM's whole life, on a real kernel with a real libvirt, and the host as it was"
