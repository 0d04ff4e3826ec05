#!/bin/bash
# The package's takeover of an existing /etc/libvirt/hooks/qemu (the VFIO-Tools dispatcher 10-install put
# there before installing): the dispatcher is kept aside byte for byte and no longer runs; hookd's hook runs
# each qemu.d/<vm>/<op>/<subop>/ script exactly once per event, with the domain XML on stdin (the
# dispatcher gave its scripts a file list instead: that tells who ran them); an executable directly in
# qemu.d/ runs once too (libvirt runs it, not hookd). A reinstall keeps all that and never replaces a copy
# changed by hand; `dpkg -r` puts the dispatcher back, and a new install takes over again and says so.
# Leaves the host as 10-install left it (hookd installed, the dispatcher aside) for 70-purge.
# testbed-timeout: 900
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"
[[ -s "$TESTBED_STATE/before-install.txt" ]] || fail "no snapshot from before the install (10-install runs first)"
[[ -n "${HOOKD_DEB:-}" && -f "$HOOKD_DEB" ]] || fail "no hookd package (HOOKD_DEB) to reinstall"

HOOK=/etc/libvirt/hooks/qemu
ORIG=/etc/libvirt/hooks/qemu.hookd-orig
PROG=/usr/libexec/hookd/hookd-hook
QEMUD=/etc/libvirt/hooks/qemu.d
STDIN_LOG=/var/log/legacy-stdin.log
GLOBAL_LOG=/var/log/legacy-global.log
UUID=5a1f0c3e-0000-4000-8000-00000000b065

cleanup() {
	vsh 30 destroy legacy >/dev/null 2>&1 || true
	vsh 30 undefine legacy >/dev/null 2>&1 || true
	rm -f "$QEMUD/legacy/prepare/begin/20-stdin.sh" "$QEMUD/00-global.sh" "$STDIN_LOG" "$GLOBAL_LOG" "$LEGACY_LOG"
	rm -rf "$QEMUD/legacy/release"
}
trap cleanup EXIT

sum() {
	sha256sum <"$1" | cut -d' ' -f1
}
# The dispatcher's checksum from 10-install's snapshot (lines "SHA256  PATH").
dispatcher_sum=$(awk -v p="$HOOK" '$2 == p { print $1 }' "$TESTBED_STATE/before-install.txt")
[[ -n "$dispatcher_sum" ]] || fail "10-install's snapshot has no checksum of $HOOK"

assert_taken_over() {
	[[ -f "$ORIG" && "$(sum "$ORIG")" == "$dispatcher_sum" ]] || fail "$ORIG is not the dispatcher, byte for byte"
	[[ -f "$HOOK" && ! -L "$HOOK" && -x "$HOOK" ]] || fail "$HOOK is not an executable regular file"
	cmp -s "$HOOK" "$PROG" || fail "$HOOK is not a copy of $PROG"
	[[ "$(dpkg-divert --listpackage "$HOOK")" == hookd ]] || fail "no diversion of $HOOK by hookd"
	[[ "$(dpkg-divert --truename "$HOOK")" == "$ORIG" ]] || fail "the diversion does not lead to $ORIG"
	[[ "$(dpkg-divert --list | grep -c "$HOOK")" == 1 ]] || fail "not exactly one diversion of $HOOK"
	echo "ok: the dispatcher is $ORIG (unchanged), $HOOK is hookd's hook, one diversion records it"
}

step "after the install: the dispatcher aside, hookd's hook in its place"
ls -la /etc/libvirt/hooks
dpkg-divert --list hookd
assert_taken_over

step "scripts for VM legacy: prepare/begin (10-mark, 20-stdin), release/end, and qemu.d/00-global.sh"
mkdir -p "$QEMUD/legacy/release/end"
cat >"$QEMUD/legacy/prepare/begin/20-stdin.sh" <<SCRIPT
#!/bin/sh
# hookd's hook gives a script the domain XML on stdin; the dispatcher gave it the list of script files.
if grep -q '<domain'; then echo "\$* xml" >>$STDIN_LOG; else echo "\$* not-xml" >>$STDIN_LOG; fi
SCRIPT
cp "$QEMUD/legacy/prepare/begin/10-mark.sh" "$QEMUD/legacy/release/end/10-mark.sh"
printf '#!/bin/sh\necho "$*" >>%s\n' "$GLOBAL_LOG" >"$QEMUD/00-global.sh"
chmod 0755 "$QEMUD/legacy/prepare/begin/20-stdin.sh" "$QEMUD/legacy/release/end/10-mark.sh" "$QEMUD/00-global.sh"
rm -f "$LEGACY_LOG" "$STDIN_LOG" "$GLOBAL_LOG"

step "virsh start, then destroy, of VM legacy (no hookd configuration): each script exactly once per event"
define_domain legacy "$UUID"
vsh 120 start legacy
vsh 60 destroy legacy
echo "# $LEGACY_LOG"; cat "$LEGACY_LOG"
echo "# $STDIN_LOG"; cat "$STDIN_LOG"
echo "# $GLOBAL_LOG"; cat "$GLOBAL_LOG"
[[ "$(grep -c '^legacy prepare begin' "$LEGACY_LOG")" == 1 ]] || fail "10-mark ran $(grep -c '^legacy prepare begin' "$LEGACY_LOG") times at prepare begin, expected once"
[[ "$(grep -c '^legacy release end' "$LEGACY_LOG")" == 1 ]] || fail "release/end/10-mark did not run exactly once"
[[ "$(wc -l <"$LEGACY_LOG")" == 2 ]] || fail "$LEGACY_LOG has other lines than one prepare and one release"
[[ "$(cat "$STDIN_LOG")" == "legacy prepare begin - xml" ]] || fail "20-stdin did not run once with the domain XML on stdin (run by the dispatcher?)"
[[ "$(grep -c '^legacy prepare begin' "$GLOBAL_LOG")" == 1 ]] || fail "qemu.d/00-global.sh did not run exactly once at prepare begin"
[[ "$(grep -c '^legacy release end' "$GLOBAL_LOG")" == 1 ]] || fail "qemu.d/00-global.sh did not run exactly once at release end"
echo "ok: every script once per event, run by hookd's hook (XML on stdin); 00-global.sh once, by libvirt"
vsh 30 undefine legacy

step "a reinstall never replaces a copy of the hook changed by hand, keeps the dispatcher aside, says no takeover"
printf '#!/bin/sh\nexec %s "$@"\n' "$PROG" >"$HOOK"
hand=$(sum "$HOOK")
dpkg -i "$HOOKD_DEB" >/tmp/reinstall2.txt 2>&1 || { cat /tmp/reinstall2.txt; fail "dpkg -i (reinstall) failed"; }
cat /tmp/reinstall2.txt
grep -qF "$HOOK is not the copy hookd installed; left as it is" /tmp/reinstall2.txt || fail "the reinstall did not say it left $HOOK"
[[ "$(sum "$HOOK")" == "$hand" ]] || fail "the reinstall replaced the hand-changed $HOOK"
grep -F "kept as $ORIG" /tmp/reinstall2.txt && fail "the reinstall announced a takeover again"
install -m 0755 "$PROG" "$HOOK"
assert_taken_over

step "dpkg -r: the dispatcher is back, byte for byte, with no diversion; hookd's units stopped"
dpkg -r hookd >/tmp/remove.txt 2>&1 || { cat /tmp/remove.txt; fail "dpkg -r hookd failed"; }
cat /tmp/remove.txt
[[ "$(sum "$HOOK")" == "$dispatcher_sum" ]] || fail "$HOOK is not the dispatcher after dpkg -r"
[[ ! -e "$ORIG" ]] || fail "$ORIG is left after dpkg -r"
[[ -z "$(dpkg-divert --listpackage "$HOOK")" ]] || fail "the diversion of $HOOK is left after dpkg -r"
assert_unit hookd.socket inactive
assert_no_hookd

step "installed again: the takeover happens again and the install says so in one line"
dpkg -i "$HOOKD_DEB" >/tmp/install.txt 2>&1 || { cat /tmp/install.txt; fail "dpkg -i failed"; }
cat /tmp/install.txt
grep -F "the previous $HOOK is kept as $ORIG and no longer runs" /tmp/install.txt || fail "the install did not say where the previous hook went"
assert_taken_over
assert_unit hookd.socket active
assert_devices_on_host
