#!/bin/bash
# `apt purge hookd` with no VM running leaves the host as it was before the install (10-install's
# snapshot): the VFIO-Tools hook back in place, byte for byte, and working for its VM; no unit, no binary,
# no diversion, no /run/hookd, no device moved.
# testbed-timeout: 300
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"
[[ -s "$TESTBED_STATE/before-install.txt" ]] || fail "no snapshot from before the install (10-install runs first)"

step "no VM runs; the VM files this run's user wrote are removed first"
running=$(vsh 30 list --name)
[[ -z "$running" ]] || fail "domains still run: $running"
rm -f /etc/hookd/vms/*.ini
assert_devices_on_host

step "apt purge hookd"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hookd 2>&1 | tail -n 15
hookd_installed && fail "hookd is still installed"
dpkg-query -W -f '${Status}\n' hookd 2>/dev/null | grep -q 'config-files' && fail "hookd's conffiles are left (status config-files)"
assert_no_hookd
[[ "$(systemctl show -P LoadState hookd.socket)" == not-found ]] || fail "hookd.socket is still known to systemd"

step "the host is as it was before the install"
host_snapshot >/tmp/after-purge.txt
if ! diff -u "$TESTBED_STATE/before-install.txt" /tmp/after-purge.txt; then
	fail "the purge left the host different from before the install (diff above: - before, + after)"
fi
echo "ok: hooks, /etc/hookd, units, diversions, accounts and /run/hookd as before the install"

step "the previous hook works again: VM legacy's prepare script runs once on its start"
systemctl restart libvirtd.service
wait_unit libvirtd.service active 60
define_domain legacy 5a1f0c3e-0000-4000-8000-00000000b007
rm -f "$LEGACY_LOG"
vsh 120 start legacy
vsh 60 destroy legacy
vsh 30 undefine legacy
cat "$LEGACY_LOG"
[[ "$(wc -l <"$LEGACY_LOG")" == 1 ]] || fail "the legacy prepare script ran $(wc -l <"$LEGACY_LOG") times, expected once"
grep -q '^legacy prepare begin' "$LEGACY_LOG" || fail "the legacy script did not get 'legacy prepare begin'"
assert_devices_on_host
