#!/bin/bash
# hookctl init from libvirt's test driver (read-only connection) and from a saved domain XML, with IOMMU group
# expansion against the fixture sysfs.
. "$SRCDIR/lib.sh"
. "$SRCDIR/fixture.sh"
make_sysfs "$T/sys"
URI="test://$DATA/node.xml"
IO="--sysfs-root $T/sys --connect $URI"

step "win10 from the test driver: hostdevs plus the rest of group 28"
# shellcheck disable=SC2086
hc $IO init win10 --stdout
expect_rc 0 "init win10 --stdout"
golden init-win10.ini "$T/out"
[ -e "$HOOKD_CONF_DIR/vms/win10.ini" ] && fail "--stdout wrote a file"

step "written, then refused without --force, replaced with it"
# shellcheck disable=SC2086
hc $IO init win10
expect_rc 0 "init win10"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$GOLDEN/init-win10.ini" || fail "written file differs from golden"
echo "# mine" >>"$HOOKD_CONF_DIR/vms/win10.ini"
cp "$HOOKD_CONF_DIR/vms/win10.ini" "$T/before"
# shellcheck disable=SC2086
hc $IO init win10
expect_rc 1 "init over an existing file"
expect_grep "exists; use --force" "$T/err" "stderr"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$T/before" || fail "refused init changed the file"
# shellcheck disable=SC2086
hc $IO init win10 --force
expect_rc 0 "init --force"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$GOLDEN/init-win10.ini" || fail "--force did not replace the file"

step "a saved domain XML (--xml), a split group brings its NIC but not its bridge"
hc --sysfs-root "$T/sys" init amd --xml "$DATA/amd-domain.xml" --stdout
expect_rc 0 "init --xml"
golden init-amd.ini "$T/out"
expect_grep "the domain's <hostdev> 0000:0d:00.0 is managed='yes': set managed='no' on it (virsh edit amd), or hookd refuses to move it" "$T/err" "the managed note"
grep -q "0000:03:01.0 is managed" "$T/err" && fail "managed='no' noted: $(cat "$T/err")"

step "no such domain, no hostdevs, libvirt unreachable, bad names"
# shellcheck disable=SC2086
hc $IO init nosuch --stdout
expect_rc 4 "init of an unknown domain"
expect_grep "no domain 'nosuch'" "$T/err" "stderr"
# shellcheck disable=SC2086
hc $IO init plain
expect_rc 1 "init of a domain without hostdevs"
expect_grep "no <hostdev> PCI devices" "$T/err" "stderr"
[ -e "$HOOKD_CONF_DIR/vms/plain.ini" ] && fail "a file was written for plain"
hc --sysfs-root "$T/sys" --connect "test://$T/missing.xml" init win10 --stdout
expect_rc 1 "init with libvirt unreachable"
expect_grep "cannot reach libvirt" "$T/err" "stderr"
echo '<domain><devices><hostdev mode="subsystem" type="pci"><source><address bus="zz"/></source></hostdev>' >"$T/bad.xml"
hc --sysfs-root "$T/sys" init bad --xml "$T/bad.xml"
expect_rc 1 "init from malformed XML"
[ -e "$HOOKD_CONF_DIR/vms/bad.ini" ] && fail "malformed XML wrote a file"
# shellcheck disable=SC2086
hc $IO init ../win10
expect_rc 1 "init ../win10"
expect_grep "invalid VM name" "$T/err" "stderr"

finish
