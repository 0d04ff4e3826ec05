#!/bin/bash
# The single-GPU desktop (issue 12): the guest GPU is the desktop's only display. weston holds its card as
# display-manager.service, alice's poller holds it from her wayland login session on seat0, and a sound
# server holds the ALSA nodes of its audio function (tests/vm/systemd/desktop.bash sets them up).
#  (a) without freeing keys, `virsh start` is refused before any write, naming the card's first holder
#      (pid, command, user, unit or session) and how many more in virsh's error; `hookctl check` lists every
#      holder, alice's poller (by her session) and the sound server included; nothing changed.
#  (b) with stop-units, end-sessions and inhibit-sleep, `virsh start` stops the display manager and the
#      sound server, ends alice's session, takes a sleep inhibitor and moves the GPU pair; the VM runs and
#      `hookctl status` says what hookd stopped, ended and inhibited for it; a listed unit that was not
#      running (desktop.bash's gpu-persistenced, installed but stopped) is left alone;
#  (c) `virsh destroy` gives the GPU back: the console bound, the display manager and the sound server
#      active and holding their nodes again, gpu-persistenced still inactive, the inhibitor gone;
#  (d) hookd killed (-9) while the VM runs: the next hookd takes the inhibitor again; `virsh destroy`:
#      recovery still starts the units again and lets the inhibitor go.
# It prints how long systemd took to stop and to start the display manager (weston under TCG), and hookd's
# steps with their times.
# Leaves the host as 65-takeover left it (hookd installed, no desktop, alice gone) for 70-purge.
# testbed-timeout: 600
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/desktop.bash
. "$HOOKD_SRC/tests/vm/systemd/desktop.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

gpu_group=$(group_of "$GPU_VGA")

step "the single-GPU desktop: weston as display-manager.service, alice's poller, the sound server"
t0=$SECONDS
desktop_setup
echo "desktop up in $((SECONDS - t0)) s"
assert_vtcon_bound yes
weston=$(main_pid weston.service)
sound=$(main_pid sound-server.service)
poller=$(poller_pid)
session=$(alice_sessions)

# How long systemd took for UNIT's last stop (deactivating -> inactive) and start (activating -> active).
unit_stop_ms() {
	local from to
	from=$(systemctl show -P ActiveExitTimestampMonotonic "$1")
	to=$(systemctl show -P InactiveEnterTimestampMonotonic "$1")
	echo $(((to - from) / 1000))
}
unit_start_ms() {
	local from to
	from=$(systemctl show -P InactiveExitTimestampMonotonic "$1")
	to=$(systemctl show -P ActiveEnterTimestampMonotonic "$1")
	echo $(((to - from) / 1000))
}
hookd_steps() {
	journalctl -o short-monotonic --no-pager -q VM=desk --since "@${1%.*}" | cut -c1-200 || true
}

step "(a) no freeing keys: virsh start is refused naming each holder; nothing changes"
vm_ini desk <<INI
[vm]
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
define_domain desk 5a1f0c3e-0000-4000-8000-00000000b067 "$GPU_VGA" "$GPU_AUDIO"
[[ "$(unit_state hookd.service)" != active ]] || systemctl reload hookd.service
if vsh 240 start desk >/tmp/start.out 2>&1; then
	cat /tmp/start.out
	fail "virsh start desk succeeded with the GPU held by weston, alice's poller and the sound server"
fi
cat /tmp/start.out
hookctl check desk >/tmp/check.out 2>&1 || true
cat /tmp/check.out
[[ "$(vsh 30 domstate desk)" == "shut off" ]] || fail "desk is not shut off after the refused start"
holder_weston="pid $weston (weston, user root, weston.service)"
holder_poller="pid $poller (gpu-poller, user alice, session $session)"
holder_sound="pid $sound (sound-server, user root, sound-server.service)"
# One line, naming the card's first holder (by pid) and how many more: alice's poller is the one more
# (hookd, in its unit's sandbox, must be able to look at another user's /proc/PID/fd).
grep -qF -- "$GPU_VGA (gpu) is in use by $holder_weston and 1 more" /tmp/start.out ||
	fail "virsh's error does not say $GPU_VGA is in use by $holder_weston and 1 more"
echo "ok: virsh's error names weston, and one more, on the card"
assert_devices_on_host
assert_vtcon_bound yes
assert_desktop_up
[[ "$(poller_pid)" == "$poller" ]] || fail "alice's poller $poller is gone after a refused start"
for h in "$holder_weston" "$holder_poller" "$holder_sound"; do
	grep -qF -- "$h" /tmp/check.out || fail "hookctl check desk does not list $h"
done
echo "ok: hookctl check lists all three holders"

step "(b) with the freeing keys: virsh start stops the display manager, ends alice's session, moves the GPU"
vm_ini desk <<INI
[vm]
release-console = yes
stop-units = display-manager.service sound-server.service gpu-persistenced.service
end-sessions = yes
inhibit-sleep = yes
holders-timeout = 30

[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
systemctl reload hookd.service
t0=$EPOCHREALTIME
vsh 300 start desk
echo "virsh start took $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms;" \
	"systemd stopped display-manager.service (weston) in $(unit_stop_ms weston.service) ms"
hookd_steps "$t0"
[[ "$(vsh 30 domstate desk)" == running ]] || fail "desk is not running"
assert_driver "$GPU_VGA" vfio-pci
assert_driver "$GPU_AUDIO" vfio-pci
assert_vfio_dev "$gpu_group" present
assert_qemu_holds desk "$gpu_group"
assert_vtcon_bound no
assert_driver "$HOST_VGA" bochs-drm
assert_unit weston.service inactive
assert_unit sound-server.service inactive
assert_unit gpu-persistenced.service inactive
[[ -z "$(alice_sessions)" ]] || fail "alice's session $(alice_sessions) is not ended"
[[ -z "$(poller_pid)" ]] || fail "alice's poller still runs: $(poller_pid)"
systemd-inhibit --list --no-pager | tee /tmp/inhibit.out
grep -q 'hookd' /tmp/inhibit.out || fail "hookd holds no sleep inhibitor while desk runs"
hookctl status desk | tee /tmp/status.out
grep -q 'display-manager.service' /tmp/status.out || fail "hookctl status does not say hookd stopped display-manager.service"
grep -q 'sound-server.service' /tmp/status.out || fail "hookctl status does not say hookd stopped sound-server.service"
grep -Eqi 'session' /tmp/status.out || fail "hookctl status does not say hookd ended alice's session"
grep -Eqi 'inhibit' /tmp/status.out || fail "hookctl status does not say hookd holds a sleep inhibitor"

step "(c) virsh destroy: the GPU back, the console bound, the display manager and the sound server again"
t0=$EPOCHREALTIME
vsh 120 destroy desk
assert_devices_on_host
assert_vtcon_bound yes
assert_desktop_up
echo "virsh destroy to the desktop up: $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms;" \
	"systemd started display-manager.service (weston, until it holds the card) in $(unit_start_ms weston.service) ms"
hookd_steps "$t0"
assert_unit gpu-persistenced.service inactive
systemd-inhibit --list --no-pager | tee /tmp/inhibit.out
! grep -q 'hookd' /tmp/inhibit.out || fail "hookd's sleep inhibitor is still there after desk stopped"

step "(d) hookd killed (-9) while desk runs; virsh destroy: recovery starts the units again"
vsh 300 start desk
assert_driver "$GPU_VGA" vfio-pci
assert_unit weston.service inactive
pid=$(main_pid hookd.service)
[[ "$pid" != 0 ]] || fail "hookd.service has no MainPID"
kill -KILL "$pid"
wait_gone "/proc/$pid" 30
# The kernel closed the inhibitor's fd with hookd; the next hookd (socket-activated by hookctl) takes it again
# for the VM it finds prepared.
hookctl status desk | tee /tmp/status.out
systemd-inhibit --list --no-pager | tee /tmp/inhibit.out
grep -q 'hookd' /tmp/inhibit.out || fail "the restarted hookd did not take the sleep inhibitor again for desk"
[[ "$(main_pid hookd.service)" != "$pid" ]] || fail "hookd's MainPID is still the killed $pid"
assert_unit weston.service inactive
vsh 120 destroy desk
assert_devices_on_host
assert_vtcon_bound yes
assert_desktop_up
assert_unit sound-server.service active
assert_unit gpu-persistenced.service inactive
systemd-inhibit --list --no-pager | tee /tmp/inhibit.out
! grep -q 'hookd' /tmp/inhibit.out || fail "a sleep inhibitor of hookd is still there after desk stopped"

step "the desktop goes; the accounts are as before"
vsh 30 undefine desk
rm -f /etc/hookd/vms/desk.ini
desktop_teardown
assert_devices_on_host
