#!/bin/bash
# The single-GPU desktop (issue 12): the guest GPU is the desktop's only display. weston holds its card as
# display-manager.service, alice's poller holds it from her wayland login session on seat0, and a sound
# server holds the ALSA nodes of its audio function (tests/vm/systemd/desktop.bash sets them up).
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

step "the desktop goes; the accounts are as before"
desktop_teardown
assert_devices_on_host
