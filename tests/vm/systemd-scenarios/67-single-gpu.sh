#!/bin/bash
# The single-GPU desktop (issue 12): the guest GPU is the desktop's only display. weston holds its card as
# display-manager.service, alice's poller holds it from her wayland login session on seat0, and a sound
# server holds the ALSA nodes of its audio function (tests/vm/systemd/desktop.bash sets them up).
#  (a) without freeing keys, `virsh start` is refused before any write, naming the card's first holder
#      (pid, command, user, unit or session) and how many more in virsh's error; `hookctl check` lists every
#      holder, alice's poller (by her session) and the sound server included; nothing changed.
# Leaves the host as 65-takeover left it (hookd installed, no desktop, alice gone) for 70-purge.
# testbed-timeout: 600
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/desktop.bash
. "$HOOKD_SRC/tests/vm/systemd/desktop.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

step "the single-GPU desktop: weston as display-manager.service, alice's poller, the sound server"
t0=$SECONDS
desktop_setup
echo "desktop up in $((SECONDS - t0)) s"
assert_vtcon_bound yes
weston=$(main_pid weston.service)
sound=$(main_pid sound-server.service)
poller=$(poller_pid)
session=$(alice_sessions)

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

step "the desktop goes; the accounts are as before"
vsh 30 undefine desk
rm -f /etc/hookd/vms/desk.ini
desktop_teardown
assert_devices_on_host
