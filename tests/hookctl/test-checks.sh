#!/bin/bash
# hookctl check (the engine's checks) and hookctl iommu (the group view) on ONE fixture host: both give the
# same verdict on every group, the host's own devices are refused, group members the host uses are listed
# as warnings and written commented out by init, and a device whose driver_override and unbind block (FIFOs
# standing in for the kernel's device lock) holds neither view up.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
S=$T/sys
make_sysfs "$S"
make_proc "$T/proc"
export HOOKCTL_PROC_ROOT=$T/proc HOOKCTL_RUN_DIR=$T/run
mkdir -p "$HOOKD_CONF_DIR/vms" "$T/run"

# The SATA controller whose disk holds /.
pci_dev "$S" 0000:00:17.0 8086 7ae2 010601 5 ahci ahci
disk=bus/pci/devices/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda
mkdir -p "$S/$disk/sda2" "$S/class/block"
echo 8:0 >"$S/$disk/dev"
echo 8:2 >"$S/$disk/sda2/dev"
echo 2 >"$S/$disk/sda2/partition"
ln -s "../../$disk" "$S/class/block/sda"
ln -s "../../$disk/sda2" "$S/class/block/sda2"
echo "22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw" >"$T/proc/self/mountinfo"
# An AMD GPU whose group holds an xHCI with the host's USB network adapter, and the security processor.
pci_dev "$S" 0000:0b:00.0 1002 73bf 030000 30 amdgpu amdgpu
pci_dev "$S" 0000:0b:00.1 1002 ab28 040300 30 snd_hda_intel snd_hda_intel
pci_dev "$S" 0000:0c:00.0 1022 15b6 0c0330 30 xhci_hcd xhci_pci
pci_dev "$S" 0000:0c:00.2 1022 15c7 108000 30 ccp ccp
mkdir -p "$S/bus/pci/devices/0000:0c:00.0/usb1/1-1/1-1:1.0/net/enx00e04c680001" "$S/class/net"
ln -s ../../bus/pci/devices/0000:0c:00.0/usb1/1-1/1-1:1.0/net/enx00e04c680001 "$S/class/net/enx00e04c680001"
# A GPU sharing its group with a host bridge that has a driver (an EDAC driver binds host bridges).
pci_dev "$S" 0000:0e:00.0 10de 2484 030000 33 nvidia nvidia
pci_dev "$S" 0000:00:00.1 8086 3e0f 060000 33 ie31200_edac ie31200_edac

cat >"$HOOKD_CONF_DIR/vms/port.ini" <<EOF
[device.rp]
address = 00:01.0
EOF
cat >"$HOOKD_CONF_DIR/vms/sata.ini" <<EOF
[device.sata]
address = 00:17.0
EOF
cat >"$HOOKD_CONF_DIR/vms/edac.ini" <<EOF
[device.gpu]
address = 0e:00.0
EOF
cat >"$HOOKD_CONF_DIR/vms/amd.ini" <<EOF
[device.gpu]
address = 0b:00.0
whole-group = yes
EOF
IO="--sysfs-root $S"

step "the host's own devices are refused before anything changes"
# shellcheck disable=SC2086
hc $IO check port
expect_rc 1 "check of a root port"
expect_grep "0000:00:01.0 (rp): it is a PCI bridge or root port (class 0x060400, pcieport)" "$T/out" "check port"
# shellcheck disable=SC2086
hc $IO check sata
expect_rc 1 "check of the SATA controller holding /"
expect_grep "0000:00:17.0 (sata): in use by the host: sda2 is mounted on /" "$T/out" "check sata"
compgen -G "$T/run/state/*.state" >/dev/null && fail "check wrote a journal"

step "check and iommu give one verdict per group (a host bridge with a driver spoils its group for both)"
# shellcheck disable=SC2086
hc $IO check edac
expect_rc 1 "check edac"
expect_grep "IOMMU group 33 is not viable and cannot be made so" "$T/out" "check edac"
# shellcheck disable=SC2086
hc $IO iommu --json
expect_rc 0 "iommu --json"
cp "$T/out" "$T/iommu.json"
for vm in edac amd; do
	# shellcheck disable=SC2086
	hc $IO check "$vm" --json
	check_ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$T/out")
	iommu_ok=$(python3 - "$T/iommu.json" "$vm" <<'PY'
import json, sys
groups = json.load(open(sys.argv[1]))["groups"]
print(all(v["viable"] for g in groups for v in g["vms"] if v["vm"] == sys.argv[2]))
PY
)
	[ "$check_ok" = "$iommu_ok" ] || fail "$vm: check says ok=$check_ok, iommu says viable=$iommu_ok"
done

step "group members the host uses: warnings in check, commented out by init"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 0 "check amd"
expect_grep "warning: VM amd: 0000:0c:00.0 (gpu+group): taken with its IOMMU group, the host loses it: xhci_hcd, and below it network interface enx00e04c680001" "$T/out" "check amd"
expect_grep "warning: VM amd: 0000:0c:00.2 (gpu+group): taken with its IOMMU group, the host loses it: ccp" "$T/out" "check amd"
grep -q "0000:0b:00.1.*loses" "$T/out" && fail "the GPU's own audio function was called a host loss"
cat >"$T/amd.xml" <<EOF
<domain type='kvm'><name>amd</name><devices>
<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x0b' slot='0x00' function='0x0'/></source></hostdev>
</devices></domain>
EOF
# shellcheck disable=SC2086
hc $IO init amd --xml "$T/amd.xml" --stdout
expect_rc 0 "init amd --xml"
expect_grep "^address = 0000:0b:00.1" "$T/out" "init: the GPU's audio is taken"
expect_grep "^# The host uses this group member: xhci_hcd, and below it network interface enx00e04c680001" "$T/out" "init"
expect_grep "^#address = 0000:0c:00.0" "$T/out" "init: the xHCI is commented out"
expect_grep "^#address = 0000:0c:00.2" "$T/out" "init: the PSP is commented out"

step "a process holding the GPU's DRM node: check refuses naming it and lists every holder, status shows them"
mkdir -p "$S/bus/pci/devices/0000:0b:00.0/drm/card0" "$T/proc/1234/fd" "$T/proc/1300/fd"
echo 226:0 >"$S/bus/pci/devices/0000:0b:00.0/drm/card0/dev"
printf 'MAJOR=226\nMINOR=0\nDEVNAME=dri/card0\n' >"$S/bus/pci/devices/0000:0b:00.0/drm/card0/uevent"
ln -s ../../../../class/drm "$S/bus/pci/devices/0000:0b:00.0/drm/card0/subsystem"
echo Xorg >"$T/proc/1234/comm"
printf 'Name:\tXorg\nUid:\t0\t0\t0\t0\n' >"$T/proc/1234/status"
echo 0::/system.slice/display-manager.service >"$T/proc/1234/cgroup"
: >"$T/proc/1234/maps"
ln -s /dev/dri/card0 "$T/proc/1234/fd/11"
ln -s /usr/lib/xorg/Xorg "$T/proc/1234/exe"
echo gnome-shell >"$T/proc/1300/comm"
printf 'Name:\tgnome-shell\nUid:\t0\t0\t0\t0\n' >"$T/proc/1300/status"
echo 0::/user.slice/user-0.slice/session-2.scope >"$T/proc/1300/cgroup"
echo '7f2a10000000-7f2a10800000 rw-s 00000000 00:05 421 /dev/dri/card0' >"$T/proc/1300/maps"
ln -s /usr/bin/gnome-shell "$T/proc/1300/exe"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 1 "check amd with the GPU held"
expect_grep "^  - VM amd: 0000:0b:00.0 (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service) and 1 more (hookctl check amd lists them)$" "$T/out" "check amd: the refusal"
expect_grep "^    VM amd: 0000:0b:00.0 (gpu) is in use by pid 1234 (Xorg, user root, display-manager.service): /dev/dri/card0$" "$T/out" "check amd: Xorg listed"
expect_grep "^    VM amd: 0000:0b:00.0 (gpu) is in use by pid 1300 (gnome-shell, user root, session 2): mapped /dev/dri/card0$" "$T/out" "check amd: the mapping listed"
compgen -G "$T/run/state/*.state" >/dev/null && fail "check wrote a journal"
# shellcheck disable=SC2086
hc $IO status amd
expect_grep "^    in use by pid 1234 (Xorg, user root, display-manager.service): /dev/dri/card0$" "$T/out" "status amd"
expect_grep "^    in use by pid 1300 (gnome-shell, user root, session 2): mapped /dev/dri/card0$" "$T/out" "status amd"
rm -r "$T/proc/1234" "$T/proc/1300"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 0 "check amd, nobody holds the GPU"
grep -q "in use by" "$T/out" && fail "a holder named after it went"

step "the boot GPU with the console bound to it: init writes release-console = yes, and check accepts it"
mkdir -p "$S/class/vtconsole/vtcon1"
echo "frame buffer device" >"$S/class/vtconsole/vtcon1/name"
echo 1 >"$S/class/vtconsole/vtcon1/bind"
cat >"$T/boot.xml" <<EOF
<domain type='kvm'><name>boot</name><devices>
<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x0d' slot='0x00' function='0x0'/></source></hostdev>
<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x0d' slot='0x00' function='0x1'/></source></hostdev>
</devices></domain>
EOF
# shellcheck disable=SC2086
hc $IO init boot --xml "$T/boot.xml"
expect_rc 0 "init boot --xml"
expect_grep "^release-console = yes" "$HOOKD_CONF_DIR/vms/boot.ini" "init boot: the written file"
# shellcheck disable=SC2086
hc $IO check boot
expect_rc 0 "check of what init wrote for the boot GPU"
grep -q "release-console" "$T/out" "$T/err" && fail "check still asks for release-console"
rm -rf "$S/class/vtconsole/vtcon1" "$HOOKD_CONF_DIR/vms/boot.ini"

step "a device whose driver_override and unbind block holds no view up"
rm -f "$S/bus/pci/devices/0000:04:00.0/driver_override" "$S/bus/pci/drivers/nvme/unbind"
mkfifo "$S/bus/pci/devices/0000:04:00.0/driver_override" "$S/bus/pci/drivers/nvme/unbind"
cat >"$HOOKD_CONF_DIR/vms/nas.ini" <<EOF
[device.ssd]
match = 144d:a808
EOF
rc=0
# shellcheck disable=SC2086
timeout 30 "$HOOKCTL" $IO check nas >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 124 ] && fail "check waited on the device lock"
expect_rc 0 "check nas"
rc=0
# shellcheck disable=SC2086
timeout 30 "$HOOKCTL" $IO iommu >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 124 ] && fail "iommu waited on the device lock"
expect_rc 0 "iommu"
expect_grep "0000:04:00.0" "$T/out" "iommu"
rm -f "$S/bus/pci/devices/0000:04:00.0/driver_override" "$S/bus/pci/drivers/nvme/unbind"
echo "(null)" >"$S/bus/pci/devices/0000:04:00.0/driver_override"
: >"$S/bus/pci/drivers/nvme/unbind"

step "check shows the host changes prepare would make, with the host's values now; one the CPU lacks is refused"
mkdir -p "$S/devices/system/cpu"
echo 0-3 >"$S/devices/system/cpu/online"
for cpu in 2 3; do
	d=$S/devices/system/cpu/cpu$cpu/cpufreq
	mkdir -p "$d"
	echo powersave >"$d/scaling_governor"
	echo "performance powersave" >"$d/scaling_available_governors"
	echo balance_power >"$d/energy_performance_preference"
	echo "default performance balance_performance balance_power power" \
		>"$d/energy_performance_available_preferences"
done
printf '[vm]\nvm-cpus = 2-3\ncpu-governor = performance\nenergy-performance-preference = balance_performance\n[device.gpu]\naddress = 0b:00.0\nwhole-group = yes\n' \
	>"$HOOKD_CONF_DIR/vms/amd.ini"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 0 "check amd with a governor"
expect_grep "^  host changes (made first, undone last):$" "$T/out" "the heading"
expect_grep "^    energy performance preference of cpu2: balance_power -> balance_performance$" "$T/out" "cpu2's EPP"
expect_grep "^    CPU governor of cpu3: powersave -> performance$" "$T/out" "cpu3's governor"
printf '[vm]\nhugepages = 64\n[device.gpu]\naddress = 0b:00.0\nwhole-group = yes\n' >"$HOOKD_CONF_DIR/vms/huge.ini"
h=$S/devices/system/node/node0/hugepages/hugepages-2048kB
mkdir -p "$h"
echo 8 >"$h/nr_hugepages"
echo 8 >"$h/free_hugepages"
echo 0 >"$h/surplus_hugepages"
printf 'Node 0 MemTotal:       16318124 kB\nNode 0 MemFree:         8000000 kB\n' >"$S/devices/system/node/node0/meminfo"
# shellcheck disable=SC2086
hc $IO check huge
expect_rc 0 "check of a VM's hugepages"
expect_grep "^    hugepages node0/hugepages-2048kB: 8 -> 72 (64 for this VM)$" "$T/out" "the pool as it will be"
rm "$HOOKD_CONF_DIR/vms/huge.ini"
printf '[vm]\nvm-cpus = 2-3\ncpu-governor = schedutil\n[device.gpu]\naddress = 0b:00.0\nwhole-group = yes\n' \
	>"$HOOKD_CONF_DIR/vms/amd.ini"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 1 "check amd with a governor the CPUs lack"
expect_grep "VM amd: cpu-governor cpu2: cpu2 does not offer the governor schedutil (it offers: performance powersave)" \
	"$T/out" "the refusal"
[ "$(cat "$S/devices/system/cpu/cpu2/cpufreq/scaling_governor")" = powersave ] || fail "check wrote the governor"

step "status says which VM holds a device"
# VM nas holds the NVMe on vfio-pci (its journal says so, the tree shows it); win10 names it too.
mkdir -p "$T/run/state" "$S/bus/pci/drivers/vfio-pci"
ln -sfn ../../drivers/vfio-pci "$S/bus/pci/devices/0000:04:00.0/driver"
cat >"$T/run/state/nas.state" <<'JOURNAL'
{"vm": "nas", "phase": "prepared", "devices": [{"name": "ssd", "address": "0000:04:00.0",
 "original_driver": "nvme", "iommu_group": 15, "step": "on-vfio"}], "modules": [],
 "release_console": false, "vtconsoles": [], "firmware_framebuffers": [], "console": "untouched"}
JOURNAL
chmod 600 "$T/run/state/nas.state"
printf '[device.ssd]\naddress = 04:00.0\n' >"$HOOKD_CONF_DIR/vms/win10.ini"
rm -f "$HOOKD_CONF_DIR/vms/port.ini" "$HOOKD_CONF_DIR/vms/sata.ini" "$HOOKD_CONF_DIR/vms/edac.ini"
HOOKD_SYSFS=$S start_hookd
# shellcheck disable=SC2086
hc $IO status win10
expect_grep "0000:04:00.0 (ssd).*on-vfio.*, held by VM nas" "$T/out" "status win10"
stop_hookd

finish
