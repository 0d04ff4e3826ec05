#!/bin/bash
# The unit's sandbox, measured (systemd-analyze security: exposure 2.1 or less; verify clean; every path it
# opens for writing writable inside it), and
# unload-modules and release-console under it, unchanged (no drop-in): starting a VM
# that holds the GPU pair unloads snd_hda_intel and bochs (libkmod in the sandbox), unbinds the framebuffer
# console (a write to /sys/class/vtconsole), and destroying it loads them again and rebinds the console.
# testbed-timeout: 420
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

step "the unit is the package's, with no drop-in"
dropins=$(systemctl show -P DropInPaths hookd.service)
[[ -z "$dropins" ]] || fail "hookd.service has drop-ins: $dropins"
systemctl show -p ProtectSystem -p CapabilityBoundingSet -p SystemCallFilter hookd.service | cut -c1-160
for m in bochs snd_hda_intel; do
	[[ -d /sys/module/$m ]] || fail "module $m is not loaded before the test"
done

# 2.0 until the holder scan (issue 12): CAP_DAC_READ_SEARCH, to list another user's /proc/PID/fd, costs 0.1.
step "the sandbox measured: systemd-analyze security (goal: exposure 2.1 or less) and verify"
systemd-analyze security --no-pager hookd.service >/tmp/security.txt 2>&1 || true
grep -E '^✗' /tmp/security.txt | cut -c1-150 || true
exposure=$(sed -n 's/.*Overall exposure level for hookd.service: \([0-9.]*\).*/\1/p' /tmp/security.txt)
echo "exposure: ${exposure:-?}"
[[ -n "$exposure" ]] || fail "systemd-analyze security printed no exposure level: $(tail -n 3 /tmp/security.txt)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.1) }' || fail "hookd.service's exposure is $exposure, above 2.1"
echo "$exposure" >"$HOOKD_RESULTS/exposure"
# --man=no: the guest has no man(1); the pages themselves are checked by the package build.
systemd-analyze verify --man=no /lib/systemd/system/hookd.socket /lib/systemd/system/hookd.service >/tmp/verify.txt 2>&1 ||
	fail "systemd-analyze verify failed: $(cat /tmp/verify.txt)"
[[ ! -s /tmp/verify.txt ]] || fail "systemd-analyze verify complained: $(cat /tmp/verify.txt)"
echo "ok: systemd-analyze verify: both units clean"

gpu_group=$(group_of "$GPU_VGA")
vm_ini modvm <<INI
[vm]
unload-modules = snd_hda_intel bochs
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
define_domain modvm 5a1f0c3e-0000-4000-8000-00000000b002 "$GPU_VGA" "$GPU_AUDIO"
# hookd reads its configuration at start and on reload.
if [[ "$(unit_state hookd.service)" == active ]]; then
	systemctl reload hookd.service
fi

step "virsh start modvm: the modules go, the GPU pair is on vfio-pci, the console is released"
vsh 240 start modvm
[[ "$(vsh 30 domstate modvm)" == running ]] || fail "modvm is not running"

# Every path the unit opens for writing is writable in hookd's own mount namespace: systemd keeps the more
# restrictive entry when ReadWritePaths= names a path a Protect*= setting lists read-only (/proc/irq was).
pid=$(systemctl show -p MainPID --value hookd.service)
[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "hookd.service has no main PID ($pid)"
writable=$(systemctl show -P ReadWritePaths hookd.service)
for b in $(systemctl show -P BindPaths hookd.service); do
	b=${b#-}
	writable+=" ${b%%:*}" # SOURCE[:DEST[:OPTIONS]]: onto itself here
done
for p in $writable; do
	p=${p#-}
	[[ -e "$p" ]] || continue # "-": a kernel without it
	opts=$(nsenter -t "$pid" -m findmnt -n -o OPTIONS -T "$p")
	[[ "$opts" == rw,* ]] || fail "$p is not writable inside hookd.service's sandbox (mounted $opts)"
	echo "ok: $p writable in the sandbox"
done
for m in bochs snd_hda_intel; do
	[[ ! -d /sys/module/$m ]] || fail "module $m is still loaded while modvm runs"
done
echo "ok: bochs and snd_hda_intel unloaded"
assert_driver "$GPU_VGA" vfio-pci
assert_driver "$GPU_AUDIO" vfio-pci
assert_driver "$HOST_VGA" none # bochs drives the host display too: it goes with the module
assert_vtcon_bound no
assert_qemu_holds modvm "$gpu_group"
journal_lines VM=modvm | tee /tmp/journal.txt
grep -q 'unloaded module bochs' /tmp/journal.txt || fail "the journal does not say bochs was unloaded"

step "virsh destroy modvm: the modules are back, the devices on their drivers, the console bound"
vsh 120 destroy modvm
for m in bochs snd_hda_intel; do
	[[ -d /sys/module/$m ]] || fail "module $m was not loaded again"
done
assert_devices_on_host
assert_vtcon_bound yes
grep -q 'loaded module bochs again' <(journal_lines VM=modvm) || fail "the journal does not say bochs was loaded again"
vsh 30 undefine modvm
rm -f /etc/hookd/vms/modvm.ini
