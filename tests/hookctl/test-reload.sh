#!/bin/bash
# hookctl reload (hookd.service's ExecReload): waits for hookd's answer, exits 0 when the configuration was
# taken, 1 with each problem when a file was refused (that VM alone is disabled, keeping its last good version),
# 3 when hookd is not running.
# This is what makes `systemctl reload hookd` fail on a bad file instead of "succeeding" with a SIGHUP.
. "$SRCDIR/lib.sh"
VMS=$HOOKD_CONF_DIR/vms
mkdir -p "$VMS"

step "hookd not running: exit 3, said so"
hc reload
expect_rc 3 "reload without hookd"
expect_grep "hookd is not running" "$T/err" "stderr"

start_hookd

step "a valid new VM file: taken, exit 0"
printf '[device.gpu]\naddress = 0000:0a:00.0\n' >"$VMS/win10.ini"
hc reload
expect_rc 0 "valid reload"
expect_grep "hookd reloaded its configuration" "$T/out" "stdout"
expect_grep "configuration reloaded: 1 VMs" "$T/hookd.log" "hookd's log"

step "an invalid file: refused with the file, line and problem, exit 1; that VM alone is disabled"
printf '[device.ssd]\naddress = 0000:04:00.0\nwhole-grup = yes\n' >"$VMS/linux.ini"
hc reload
expect_rc 1 "refused reload"
expect_grep "all but the files with problems" "$T/err" "stderr"
expect_grep "linux.ini:3: .*whole-grup" "$T/err" "stderr"
expect_grep "VM linux: its configuration is broken" "$T/hookd.log" "hookd's log"
hc status --json
grep -q '"config_problems"' "$T/out" || fail "status does not show linux's problem: $(cat "$T/out")"
grep -q '"win10"' "$T/out" || fail "status lost the running VM win10: $(cat "$T/out")"

step "fixed: taken again"
printf '[device.ssd]\naddress = 0000:04:00.0\nwhole-group = yes\n' >"$VMS/linux.ini"
hc reload
expect_rc 0 "reload after the fix"
expect_grep "configuration reloaded: 2 VMs" "$T/hookd.log" "hookd's log"

finish
