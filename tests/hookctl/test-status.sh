#!/bin/bash
# hookctl status and check against the fixture sysfs, libvirt's test driver and a real hookd on a private
# socket; prepare/release by hand through that hookd.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
make_sysfs "$T/sys"
make_proc "$T/proc"
export HOOKCTL_PROC_ROOT=$T/proc HOOKCTL_RUN_DIR=$T/run TZ=UTC
mkdir -p "$HOOKD_CONF_DIR/vms" "$T/run"
cp "$DATA/win10.ini" "$DATA/amd.ini" "$DATA/split.ini" "$HOOKD_CONF_DIR/vms/"
# check needs no modules to unload here: the machine running the tests may have no /lib/modules.
sed -i '/unload-modules/d' "$HOOKD_CONF_DIR/vms/win10.ini"
IO="--sysfs-root $T/sys --connect test://$DATA/node.xml"

step "status with hookd down: exit 3, devices from sysfs, libvirt states"
# shellcheck disable=SC2086
hc $IO status
expect_rc 3 "status, hookd down"
scrub "$T/out" >"$T/out.s"
golden status-down.txt "$T/out.s"
# shellcheck disable=SC2086
hc $IO status win10 --json
expect_rc 3 "status win10 --json, hookd down"
scrub "$T/out" >"$T/out.s"
golden status-down-win10.json "$T/out.s"
# shellcheck disable=SC2086
hc $IO status nosuchvm
expect_rc 4 "status of an unknown VM"
expect_grep "no such VM 'nosuchvm'" "$T/err" "stderr"

step "libvirt unreachable is shown, not fatal"
hc --sysfs-root "$T/sys" --connect "test://$T/missing.xml" status amd
expect_rc 3 "status with libvirt unreachable"
expect_grep "unreachable" "$T/out" "stdout"
expect_grep "0000:0d:00.0 (gpu)" "$T/out" "stdout"

step "check: a viable plan, and a refusal with every reason"
# shellcheck disable=SC2086
hc $IO check amd
expect_rc 0 "check amd"
golden check-amd.txt "$T/out"
# shellcheck disable=SC2086
hc $IO check win10
expect_rc 1 "check win10 (group 28 not viable)"
golden check-win10.txt "$T/out"
# shellcheck disable=SC2086
hc $IO check win10 --json
expect_rc 1 "check win10 --json"
python3 - "$T/out" <<'PY' || fail "check --json content"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["vm"] == "win10" and o["ok"] is False, o
assert any("not viable" in p for p in o["problems"]), o["problems"]
assert [d["address"] for d in o["plan"]["devices"]][:2] == ["0000:0a:00.0", "0000:0a:00.1"], o["plan"]
PY
# shellcheck disable=SC2086
hc $IO check nosuchvm
expect_rc 4 "check of an unknown VM"
find "$T/sys" -newer "$HOOKD_CONF_DIR/vms/amd.ini" -type f | grep -q . && fail "check wrote into the sysfs tree"

step "hookd up: status from io.hookd.Status, release by hand, an event on record"
HOOKD_SYSFS=$T/sys start_hookd
# shellcheck disable=SC2086
hc $IO status
expect_rc 0 "status, hookd up"
expect_grep "hookd: running (version" "$T/out" "stdout"
expect_grep "win10: libvirt running" "$T/out" "stdout"
expect_grep "amd: libvirt shut off" "$T/out" "stdout"
hc release amd
expect_rc 0 "release amd"
expect_grep "back on the host" "$T/out" "stdout"
# shellcheck disable=SC2086
hc $IO status amd
expect_rc 0 "status amd"
expect_grep "last event: release manual at [0-9-]* [0-9:]*: ok" "$T/out" "stdout"
# shellcheck disable=SC2086
hc $IO status amd --json
python3 - "$T/out" <<'PY' || fail "status --json content"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["daemon"]["running"] is True and o["daemon"]["protocol"] == 1, o["daemon"]
vm, = o["vms"]
assert vm["name"] == "amd" and vm["libvirt_state"] == "shut off", vm
assert vm["last_events"][-1]["op"] == "release" and vm["last_events"][-1]["result"] == "ok", vm
assert [d["address"] for d in vm["devices"]] == ["0000:0d:00.0", "0000:0d:00.1"], vm["devices"]
PY
step "a user who may not read the VM's file gets hookd's own check (io.hookd.Check)"
# As root: run hookctl as nobody, who can reach the socket but not the configuration directory. Otherwise
# the VM's file is made unreadable to ourselves.
if [ "$(id -u)" = 0 ]; then
	chmod 711 "$T"
	chmod 666 "$HOOKD_SOCKET"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	chmod 000 "$HOOKD_CONF_DIR/vms/amd.ini"
	as_user=()
fi
# As root this runs twice: the file readable but the run directory not, then the file unreadable too.
for conf_mode in 755 700; do
	[ "$(id -u)" = 0 ] && chmod "$conf_mode" "$HOOKD_CONF_DIR"
	rc=0
	# shellcheck disable=SC2086
	"${as_user[@]}" "$HOOKCTL" $IO check amd >"$T/out" 2>"$T/err" || rc=$?
	expect_rc 0 "check amd by a user who may not read everything (conf dir $conf_mode)"
	expect_grep "the plan is hookd's own check" "$T/err" "stderr"
	golden check-amd.txt "$T/out"
	grep -q "Permission denied" "$T/err" && fail "a bare 'Permission denied': $(cat "$T/err")"
done
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$HOOKD_CONF_DIR"
	chmod 700 "$T"
else
	chmod 644 "$HOOKD_CONF_DIR/vms/amd.ini"
fi
hc prepare nosuchvm
expect_rc 4 "prepare of an unknown VM"
expect_grep "no configuration" "$T/err" "stderr"

step "a legacy script that will not run: on the hook's stderr, in hookd's log, in status"
mkdir -p "$T/hooks/qemu.d/amd/release/end"
printf '#!/bin/sh\n' >"$T/hooks/qemu.d/amd/release/end/revert.sh"
chmod 0644 "$T/hooks/qemu.d/amd/release/end/revert.sh"
rc=0
echo '<domain/>' | HOOKD_HOOKS_DIR=$T/hooks HOOKD_RUN_DIR=$T/run "$HOOKD_HOOK" amd release end - \
	2>"$T/hook.err" || rc=$?
expect_rc 0 "the hook's release end"
expect_grep "revert.sh is not executable (mode 0644)" "$T/hook.err" "the hook's stderr"
expect_grep "revert.sh is not executable (mode 0644)" "$T/hookd.log" "hookd's log"
# shellcheck disable=SC2086
hc $IO status amd
expect_rc 0 "status amd after the hook's event"
expect_grep "warning: legacy hook .*/qemu.d/amd/release/end/revert.sh is not executable" "$T/out" "stdout"
stop_hookd
hc prepare amd
expect_rc 3 "prepare with hookd down"
expect_grep "hookd is not running" "$T/err" "stderr"

finish
