#!/bin/bash
# hookctl import: the exact files of the seed documents, and what must be refused.
. "$SRCDIR/lib.sh"

step "seed 1: kvm.conf to stdout"
hc import "$DATA/kvm.conf" win10 --stdout
expect_rc 0 "import kvm.conf"
golden import-kvm.ini "$T/out"
[ -s "$T/err" ] && fail "import kvm.conf printed notes: $(cat "$T/err")"

step "seed 2: vfio.conf with '-' as destination"
hc import "$DATA/vfio.conf" win10 -
expect_rc 0 "import vfio.conf"
golden import-vfio.ini "$T/out"

step "standard input, other lines noted"
printf '# comment\nMEMORY=8192\nVIRSH_GPU=pci_0000_0a_00_0\nexport VIRSH_X="pci_0000_0b_00_0"\nblacklist nouveau\n' |
	"$HOOKCTL" import - vm1 --stdout >"$T/out" 2>"$T/err" && rc=0 || rc=$?
expect_rc 0 "import from stdin"
golden import-stdin.ini "$T/out"
golden import-stdin.err "$T/err"

step "written to the configuration directory, then refused without --force"
hc import "$DATA/kvm.conf" win10
expect_rc 0 "import writes"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$GOLDEN/import-kvm.ini" || fail "written file differs from golden"
expect_grep "hookd is not running" "$T/err" "stderr of import"
hc import "$DATA/vfio.conf" win10
expect_rc 1 "import over an existing file"
expect_grep "exists; use --force" "$T/err" "stderr"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$GOLDEN/import-kvm.ini" || fail "refused import changed the file"
hc import --force "$DATA/vfio.conf" win10
expect_rc 0 "import --force"
cmp -s "$HOOKD_CONF_DIR/vms/win10.ini" "$GOLDEN/import-vfio.ini" || fail "--force did not replace the file"
ls -A "$HOOKD_CONF_DIR/vms" >"$T/ls"
[ "$(cat "$T/ls")" = "win10.ini" ] || fail "stray files in vms/: $(cat "$T/ls")"

step "nothing usable"
printf 'blacklist nouveau\noptions snd-hda-intel power_save=0\n' >"$T/none.conf"
hc import "$T/none.conf" vm2
expect_rc 1 "import of nothing"
expect_grep "nothing to import" "$T/err" "stderr"
[ -e "$HOOKD_CONF_DIR/vms/vm2.ini" ] && fail "a file was written for nothing"

step "bad VM names"
for bad in ../evil a/b .hidden ""; do
	hc import "$DATA/kvm.conf" "$bad"
	expect_rc 1 "import to VM name '$bad'"
	expect_grep "invalid VM name" "$T/err" "stderr for '$bad'"
done
[ "$(ls -A "$HOOKD_CONF_DIR/vms")" = "win10.ini" ] || fail "a bad name wrote something"
[ -e "$T/evil.ini" ] && fail "../evil escaped the directory"

step "a repeated address is skipped with a note"
printf 'VIRSH_GPU=pci_0000_0a_00_0\nVIRSH_GPU2=pci_0000_0a_00_0\n' >"$T/dup.conf"
hc import "$T/dup.conf" vm3 --stdout
expect_rc 0 "duplicate address is skipped"
expect_grep "dup.conf:2: 0000:0a:00.0 is already imported; skipped." "$T/err" "stderr"

step "an import the parser refuses writes nothing"
printf 'VIRSH_A_DEVICE_NAME_FAR_LONGER_THAN_THIRTY_TWO=pci_0000_0a_00_0\n' >"$T/long.conf"
hc import "$T/long.conf" vm5
expect_rc 1 "refused import"
expect_grep "vms/vm5.ini:3: bad device name" "$T/err" "stderr"
expect_grep "nothing written" "$T/err" "stderr"
[ -e "$HOOKD_CONF_DIR/vms/vm5.ini" ] && fail "a refused import wrote a file"

step "a binary file"
printf 'VIRSH_GPU=pci_0000_0a_00_0\0\n' >"$T/bin.conf"
hc import "$T/bin.conf" vm4
expect_rc 1 "binary input"
[ -e "$HOOKD_CONF_DIR/vms/vm4.ini" ] && fail "binary input wrote a file"

finish
