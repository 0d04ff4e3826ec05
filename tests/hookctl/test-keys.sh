#!/bin/bash
# hookctl cat/get/set/unset: scripted edits keep comments and order, and nothing invalid is ever written.
. "$SRCDIR/lib.sh"
mkdir -p "$HOOKD_CONF_DIR/vms"
INI=$HOOKD_CONF_DIR/vms/win10.ini
cp "$DATA/commented.ini" "$INI"

step "cat and get"
hc cat win10
expect_rc 0 "cat"
cmp -s "$T/out" "$DATA/commented.ini" || fail "cat differs from the file"
hc get win10 device.gpu.address
expect_rc 0 "get"
[ "$(cat "$T/out")" = "0000:0a:00.0" ] || fail "get device.gpu.address: '$(cat "$T/out")'"
hc get win10 vm.unload-modules
printf 'nvidia_drm nvidia_modeset\nnvidia_uvm nvidia\n' | cmp -s - "$T/out" || fail "get of a continued value: $(cat "$T/out")"
hc get win10 device.gpu.reset-method
expect_rc 1 "get of an unset key"
[ -s "$T/out" ] && fail "get of an unset key printed something"

step "set: replace, add to a section, add a section"
hc set win10 device.gpu.address 0000:0b:00.0
expect_rc 0 "set existing key"
hc set win10 vm.unload-modules "nvidia_drm nvidia"
expect_rc 0 "set a continued key"
hc set win10 device.ssd.reset-method flr
expect_rc 0 "set new key"
hc set win10 device.audio.address 0000:0b:00.1
expect_rc 0 "set new section"
expect_grep "Wrote $INI" "$T/err" "stderr of set"
expect_grep "hookd is not running" "$T/err" "stderr of set"
golden keys-after-set.ini "$INI"

step "set to the same value: no changes"
cp "$INI" "$T/before"
hc set win10 device.ssd.reset-method flr
expect_rc 0 "set unchanged"
expect_grep "No changes" "$T/err" "stderr"

step "invalid results write nothing"
for args in "device.gpu.address 0000:zz:00.0" "vm.no-such-key 1" "device.gpu.reset-method nonsense" \
	"vm.release-console maybe"; do
	# shellcheck disable=SC2086
	hc set win10 $args
	expect_rc 1 "set $args"
	expect_grep "vms/win10.ini:[0-9]*: " "$T/err" "stderr of set $args"
	expect_grep "nothing written" "$T/err" "stderr of set $args"
	cmp -s "$INI" "$T/before" || fail "set $args changed the file"
done
hc set win10 device.gpu.address "0000:0a:00.0 ; sneaky"
expect_rc 1 "value with an inline comment"
hc set win10 device.gpu.address "$(printf 'a\nb')"
expect_rc 1 "value with a newline"
hc set win10 novalue x
expect_rc 1 "key without a section"
expect_grep "SECTION.KEY" "$T/err" "stderr"
hc set win10 "de vice.gpu.address" x
expect_rc 1 "key with a space"
cmp -s "$INI" "$T/before" || fail "a refused set changed the file"
[ "$(ls -A "$HOOKD_CONF_DIR/vms")" = "win10.ini" ] || fail "stray files: $(ls -A "$HOOKD_CONF_DIR/vms")"

step "unset a key and a whole section"
hc unset win10 device.ssd.reset-method
expect_rc 0 "unset key"
hc unset win10 device.audio
expect_rc 0 "unset section"
hc unset win10 vm.release-console
expect_rc 0 "unset key"
golden keys-after-unset.ini "$INI"
hc unset win10 device.gpu.reset-method
expect_rc 1 "unset of an absent key"
expect_grep "no key or section" "$T/err" "stderr"
cp "$INI" "$T/before"
hc unset win10 device.gpu.address
expect_rc 1 "unset leaving a device without address"
cmp -s "$INI" "$T/before" || fail "a refused unset changed the file"

step "unknown VM, bad names"
hc cat nosuchvm
expect_rc 1 "cat unknown VM"
expect_grep "has no configuration" "$T/err" "stderr"
hc get nosuchvm vm.release-console
expect_rc 1 "get unknown VM"
hc unset nosuchvm vm.release-console
expect_rc 1 "unset unknown VM"
[ -e "$HOOKD_CONF_DIR/vms/nosuchvm.ini" ] && fail "unset created a file"
for bad in ../win10 a/b ..; do
	hc set "$bad" device.gpu.address 0000:0a:00.0
	expect_rc 1 "set on VM '$bad'"
	expect_grep "invalid VM name" "$T/err" "stderr"
	hc cat "$bad"
	expect_rc 1 "cat of VM '$bad'"
done

step "set on a new VM starts its file"
hc set newvm device.gpu.address 0a:00.0
expect_rc 0 "set on a new VM"
printf '[device.gpu]\naddress = 0a:00.0\n' | cmp -s - "$HOOKD_CONF_DIR/vms/newvm.ini" || fail "new file: $(cat "$HOOKD_CONF_DIR/vms/newvm.ini")"

step "usage errors"
hc set win10 device.gpu.address
expect_rc 2 "set without a value"
hc frobnicate
expect_rc 2 "unknown command"
hc cat win10 --json
expect_rc 2 "cat --json"

step "set after a section whose next header is indented: the header stays a header (found by fuzz-ini-editor)"
printf '[device.gpu]\naddress = 0000:0a:00.0\n[device.ssd]\n  [device.nic]\naddress = 0000:05:00.0\n' >"$HOOKD_CONF_DIR/vms/indent.ini"
hc set indent device.ssd.address 0000:04:00.0
expect_rc 0 "set before an indented section header"
hc get indent device.ssd.address
[ "$(cat "$T/out")" = "0000:04:00.0" ] || fail "get after set: '$(cat "$T/out")'"
hc get indent device.nic.address
[ "$(cat "$T/out")" = "0000:05:00.0" ] || fail "the indented section was swallowed: '$(cat "$T/out")'"

step "an empty value before an inline comment reads back empty, as hookd reads it (found by fuzz-ini-editor)"
printf '[vm]\nunload-modules = nvidia ; the driver\n[device.gpu]\naddress = 0000:0a:00.0\n' >"$HOOKD_CONF_DIR/vms/empty.ini"
hc set empty vm.unload-modules ""
expect_rc 0 "set to empty"
hc get empty vm.unload-modules
[ -s "$T/out" ] && [ "$(cat "$T/out")" != "" ] && fail "get after set to empty: '$(cat "$T/out")'"

step "a value set where an empty one stood before its comment keeps the comment apart (found by fuzz-ini-editor)"
printf '[device.gpu]\naddress =  ; VGA\n' >"$HOOKD_CONF_DIR/vms/cmt.ini"
hc set cmt device.gpu.address 0000:0a:00.0
expect_rc 0 "set over an empty value with a comment"
hc get cmt device.gpu.address
[ "$(cat "$T/out")" = "0000:0a:00.0" ] || fail "get after set: '$(cat "$T/out")'"

step "a value starting with ';' is refused: INI would read it as a comment (found by fuzz-ini-editor)"
hc set empty vm.unload-modules ";nvidia"
expect_rc 1 "set of a value starting with ';'"
expect_grep "may not start with ';'" "$T/err" "stderr"

finish
