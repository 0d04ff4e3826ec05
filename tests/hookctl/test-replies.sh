#!/bin/bash
# hookctl against replies the real hookd never sends (wrong types, missing fields, no JSON), from a fake
# daemon on a private socket: every reply is checked before it is read, so hookctl says which field is wrong
# and goes on from sysfs instead of aborting inside json-c.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
: "${FAKE_HOOKD:?FAKE_HOOKD must name the fake daemon}"
make_sysfs "$T/sys"
make_proc "$T/proc"
export HOOKCTL_PROC_ROOT=$T/proc TZ=UTC
mkdir -p "$HOOKD_CONF_DIR/vms"
cp "$DATA/win10.ini" "$HOOKD_CONF_DIR/vms/"
IO="--sysfs-root $T/sys --connect test://$DATA/node.xml"

fake_pid=
# Serve one reply file on a fresh socket.
serve() {
	stop_fake
	export HOOKD_SOCKET=$T/fake.sock
	rm -f "$HOOKD_SOCKET"
	"$FAKE_HOOKD" "$HOOKD_SOCKET" "$1" &
	fake_pid=$!
	trap 'stop_fake; rm -rf "$T"' EXIT
	for _ in $(seq 1200); do # up to 60 s on a loaded machine
		[ -S "$HOOKD_SOCKET" ] && return 0
		kill -0 "$fake_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "the fake daemon did not start"
}
stop_fake() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
		fake_pid=
	fi
}

step "malformed Status replies: one line naming the field, devices from sysfs, exit 1"
for reply in "$DATA"/replies/bad-*.json; do
	name=$(basename "$reply" .json)
	serve "$reply"
	# shellcheck disable=SC2086
	hc $IO status
	expect_rc 1 "status with $name"
	grep -q "Assertion\|Aborted" "$T/err" && fail "$name: hookctl aborted: $(cat "$T/err")"
	expect_grep "0000:0a:00.0 (gpu)" "$T/out" "stdout with $name (devices from sysfs)"
	expect_grep "no usable answer" "$T/out" "stdout with $name"
	# shellcheck disable=SC2086
	hc $IO status --json
	expect_rc 1 "status --json with $name"
	expect_grep '"error":' "$T/out" "JSON with $name"
done
serve "$DATA/replies/bad-devices-not-array.json"
# shellcheck disable=SC2086
hc $IO status
expect_grep "warning: hookd's answer to Status cannot be used (vms\\[0\\].engine.devices: not an array)" "$T/err" \
	"the field at fault"
serve "$DATA/replies/bad-not-json.json"
# shellcheck disable=SC2086
hc $IO status
expect_grep "is not a valid message" "$T/err" "a reply that is no JSON"

step "fields hookctl does not know are left alone"
serve "$DATA/replies/good-extra-fields.json"
# shellcheck disable=SC2086
hc $IO status
expect_rc 0 "status with extra fields"
expect_grep "0000:0a:00.0 (gpu)  *vfio-pci  *was amdgpu" "$T/out" "stdout"

step "host changes: what the VM holds, the host's value, who shares it; nothing given back is shown"
serve "$DATA/replies/good-host-changes.json"
# shellcheck disable=SC2086
hc $IO status
expect_rc 0 "status with host changes"
expect_grep "^  host changes:$" "$T/out" "the heading"
expect_grep "^    hugepages node0/hugepages-2048kB: 64 added for this VM (the host's: 8)$" "$T/out" \
	"the VM's pages, apart from the host's own"
expect_grep "^    energy performance preference of cpu3: performance (the host's: balance_performance)$" "$T/out" \
	"the EPP line"
expect_grep "^    CPU governor of cpu3: performance (the host's: powersave), shared with VM nas$" "$T/out" \
	"a shared change"
expect_grep "^    AllowedCPUs of system.slice: 0-1 (the host's: unset), shared with VM nas$" "$T/out" \
	"a shared change shows what the host has now (in_effect), not what this VM wrote when it came"
expect_grep "^    CPU governor of cpu4: performance (the host's: powersave), being applied$" "$T/out" \
	"a change being applied"
expect_grep "^    sleep inhibitor held$" "$T/out" "the inhibitor"
expect_grep "^    stopped display-manager.service (it was active)$" "$T/out" "a unit hookd stopped"
expect_grep "^    nvidia-persistenced.service was not running (inactive): not stopped, not started afterwards$" \
	"$T/out" "a listed unit that was not running"
expect_grep "^    ended the graphical sessions on seat0 (sessions 3)$" "$T/out" "the sessions ended"
expect_grep "^    the holders of 0000:0a:00.0: gone$" "$T/out" "the wait for holders"
grep -q "cpu5" "$T/out" && fail "a restored change is shown: $(cat "$T/out")"

finish
