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

step "every address spelling, comments, quotes and export: read as the shell reads them"
cat >"$T/forms.conf" <<'CONF'
VIRSH_GPU_VIDEO=pci_0000_04_00_0 # gpu
VIRSH_GPU_AUDIO=pci_0000_04:00.1
export VIRSH_NVME="0000:05:00.0"; VIRSH_WIFI='06:00.0'
	VIRSH_PAIR="pci_0000_07_00_0 PCI_0000_07_00_1"   # two functions in one variable
VIRSH_DOS=pci_0000_08_00_0
CONF
sed -i 's/\\r$/\r/' "$T/forms.conf"
hc import "$T/forms.conf" vm6 --stdout
expect_rc 0 "import of every spelling"
for a in 0000:04:00.0 0000:04:00.1 0000:05:00.0 0000:06:00.0 0000:07:00.0 0000:07:00.1 0000:08:00.0; do
	expect_grep "^address = $a\$" "$T/out" "the imported file"
done
[ -s "$T/err" ] && fail "import of every spelling printed notes: $(cat "$T/err")"

step "a line that names a device and cannot be converted: reported with its number, the rest written, exit 1"
cat >"$T/lossy.conf" <<'CONF'
VIRSH_GPU=pci_0000_0a_00_0
VIRSH_AUDIO=$AUDIO
VIRSH_USB = pci_0000_0a_00_2
VIRSH_SSD="pci_0000_04_00_0
VIRSH_MEM=8192
options vfio-pci ids=1002:731f,10de
VIRSH_A_DEVICE_NAME_FAR_LONGER_THAN_THIRTY_TWO=pci_0000_0b_00_0
CONF
hc import "$T/lossy.conf" vm5
expect_rc 1 "import with lost lines"
expect_grep "lossy.conf:2: not imported: its value is a shell expansion" "$T/err" "stderr"
expect_grep "lossy.conf:3: not imported: names a VIRSH_ variable but is not an assignment" "$T/err" "stderr"
expect_grep "lossy.conf:4: not imported: a quote is not closed" "$T/err" "stderr"
expect_grep "lossy.conf:5: not imported: not a PCI address" "$T/err" "stderr"
expect_grep "lossy.conf:6: not imported: not a vendor:device id: '10de'" "$T/err" "stderr"
expect_grep "5 lines of lossy.conf could not be converted" "$T/err" "stderr"
f=$HOOKD_CONF_DIR/vms/vm5.ini
[ -e "$f" ] || fail "what could be converted was not written"
if [ -e "$f" ]; then
	expect_grep "^address = 0000:0a:00.0\$" "$f" "vm5.ini"
	expect_grep "^match = 1002:731f\$" "$f" "vm5.ini"
	expect_grep "^\[device.a-device-name-far-longer-than-th\]\$" "$f" "vm5.ini (a long name is shortened)"
	expect_grep "^# lossy.conf:3: not imported" "$f" "vm5.ini (lost lines as comments)"
	"$HOOKCTL" cat vm5 >/dev/null || fail "the written file does not load"
fi

step "a FIFO or a directory is refused at once, never waited on"
mkfifo "$T/fifo"
rc=0
# shellcheck disable=SC2034 # rc is read by expect_rc
timeout 10 "$HOOKCTL" import "$T/fifo" vm7 --stdout >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "import of a FIFO"
expect_grep "not a regular file" "$T/err" "stderr"
hc import "$T" vm7 --stdout
expect_rc 1 "import of a directory"
expect_grep "Is a directory" "$T/err" "stderr"

finish
