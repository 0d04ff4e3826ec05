#!/bin/bash
# hookd against a REAL libvirtd, isolated in a private mount namespace: tmpfs over libvirt's directories so
# nothing persists on this machine, the build's hook installed at /etc/libvirt/hooks/qemu (inside the
# namespace only), hookd on a fixture sysfs tree (no device moves here). TCG domains without disks.
# usage: run-libvirt.sh HOOKD HOOKD-HOOK HOOKD-PROBE      (root; meson test --suite libvirt)
set -euo pipefail

HOOKD=$(realpath "$1")
HOOK=$(realpath "$2")
PROBE=$(realpath "$3")
HERE=$(dirname "$(realpath "$0")")

# In CI every prerequisite is installed, so a skip there would hide a broken set-up: it fails instead.
skip() {
	if [ "${CI:-}" = true ]; then echo "FAIL: CI cannot skip: $*" >&2; exit 1; fi
	echo "SKIP: $*" >&2
	exit 77
}
fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -z "${HOOKD_LIBVIRT_INNER:-}" ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (runs libvirtd)"
	for p in libvirtd virsh unshare qemu-system-x86_64; do
		command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || skip "$p is not installed"
	done
	# libvirt's qemu driver looks the default user up even when qemu.conf says root.
	created_user=
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd --system --no-create-home --user-group --shell /usr/sbin/nologin libvirt-qemu
		created_user=yes
	fi
	rc=0
	HOOKD_LIBVIRT_INNER=1 unshare --mount --propagation private "$0" "$@" || rc=$?
	if [ -n "$created_user" ]; then
		userdel libvirt-qemu 2>/dev/null || true
		groupdel libvirt-qemu 2>/dev/null || true
	fi
	exit $rc
fi

# ---- inside the private mount namespace ----
T=$(mktemp -d /tmp/hookd-libvirt-XXXXXX)
chmod 0755 "$T"
pristine=$T/etc-libvirt
cp -a /etc/libvirt "$pristine"
for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
	mkdir -p "$d"
	mount -t tmpfs tmpfs "$d"
done
cp -a "$pristine"/. /etc/libvirt/
cat "$HERE/qemu-test.conf" >> /etc/libvirt/qemu.conf
mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu /etc/libvirt/hooks

SOCK=$T/hookd.sock
CONF=$T/conf
HOOKS=/etc/libvirt/hooks
mkdir -p "$CONF/vms" "$T/run" "$T/sys/kernel/iommu_groups" "$T/sys/bus/pci/devices"
# libvirt gives a hook only PATH and a few variables: a wrapper points the build's hook at this test's paths.
cat > $HOOKS/qemu <<EOF
#!/bin/sh
HOOKD_SOCKET=$SOCK HOOKD_CONF_DIR=$CONF HOOKD_HOOKS_DIR=$HOOKS HOOKD_RUN_DIR=$T/run exec $HOOK "\$@"
EOF
chmod 0755 $HOOKS/qemu

hookd_pid=
libvirtd_pid=
start_hookd() {
	"$HOOKD" --conf-dir "$CONF" --run-dir "$T/run" --sysfs-root "$T/sys" --socket "$SOCK" \
		>>"$T/hookd.log" 2>&1 &
	hookd_pid=$!
	for _ in $(seq 3000); do [ -S "$SOCK" ] && return 0; sleep 0.02; done # up to 60 s on a loaded machine
	fail "hookd did not start: $(cat "$T/hookd.log")"
}
stop_hookd() {
	[ -n "$hookd_pid" ] || return 0
	kill -TERM "$hookd_pid"
	wait "$hookd_pid" || fail "hookd exited with status $? on SIGTERM"
	hookd_pid=
}
start_libvirtd() {
	rm -f /run/libvirt/libvirt-sock
	LIBVIRT_LOG_OUTPUTS="3:file:$T/libvirtd.log" /usr/sbin/libvirtd >>"$T/libvirtd.out" 2>&1 &
	libvirtd_pid=$!
	for _ in $(seq 3000); do [ -S /run/libvirt/libvirt-sock ] && return 0; sleep 0.02; done
	fail "libvirtd did not start: $(tail -20 "$T/libvirtd.log")"
}
stop_libvirtd() {
	[ -n "$libvirtd_pid" ] || return 0
	kill -TERM "$libvirtd_pid"
	wait "$libvirtd_pid" || true
	libvirtd_pid=
}
cleanup() {
	for d in $(virsh -c qemu:///system list --name 2>/dev/null); do
		virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
	done
	stop_libvirtd
	[ -z "$hookd_pid" ] || kill -KILL "$hookd_pid" 2>/dev/null || true
	if [ -n "${KEEP_LOGS:-}" ]; then echo "logs in $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
VIRSH="virsh -q -c qemu:///system"

domain_xml() { # NAME UUID
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

expect_events() { # VM "op subop" ...: the VM's last events are exactly these, in order
	local vm=$1
	shift
	local got want
	got=$({ "$PROBE" "$SOCK" "$vm" || true; } | awk '$1 == "EVENT" { print $2 " " $3 }' | tail -n $#)
	want=$(printf '%s\n' "$@")
	[ "$got" = "$want" ] || fail "$vm: events seen by hookd:
$got
expected:
$want"
}

start_hookd
start_libvirtd

echo "--- a domain's whole life reaches hookd with its XML (legacy scripts run in order)"
U1=6f1c3a52-0000-4000-8000-000000000001
L=$HOOKS/qemu.d/t-life/prepare/begin
mkdir -p $L $HOOKS/qemu.d/t-life/release/end
printf '#!/bin/sh\necho "10 $0 $1 $2 $3 $(wc -c)" >> %s/legacy.log\n' "$T" > $L/10-first
printf '#!/bin/sh\necho "20 $0 $1 $2 $3 $(grep -c "<uuid>%s</uuid>")" >> %s/legacy.log\n' "$U1" "$T" > $L/20-second
printf 'not executable\n' > $L/15-skipped
printf '#!/bin/sh\necho "release $1 $2 $3" >> %s/legacy.log\n' "$T" > $HOOKS/qemu.d/t-life/release/end/x
chmod +x $L/10-first $L/20-second $HOOKS/qemu.d/t-life/release/end/x
domain_xml t-life $U1 > "$T/t-life.xml"
$VIRSH create "$T/t-life.xml" >/dev/null
$VIRSH destroy t-life >/dev/null
expect_events t-life "prepare begin" "start begin" "started begin" "stopped end" "release end"
"$PROBE" "$SOCK" t-life | awk -v u=$U1 '$1 == "EVENT" && ($4 != "ok" || $5 <= 0 || $6 != u) { bad = 1; print } END { exit bad }' ||
	fail "t-life: an event without its XML, its uuid, or not ok"
cat "$T/legacy.log"
[ "$(awk '{ print $1 }' "$T/legacy.log" | tr '\n' ' ')" = "10 20 release " ] || fail "legacy scripts out of order"
grep -q "^10 $L/10-first t-life prepare begin [1-9]" "$T/legacy.log" || fail "legacy script did not get the XML"
grep -q "^20 $L/20-second t-life prepare begin 1" "$T/legacy.log" || fail "legacy script did not get the XML"

echo "--- a failing legacy script fails the start, with its words and one hookd line"
L2=$HOOKS/qemu.d/t-legacy-fail/start/begin
mkdir -p $L2
printf '#!/bin/sh\necho "legacy says no" >&2\nexit 4\n' > $L2/10-no
chmod +x $L2/10-no
domain_xml t-legacy-fail 6f1c3a52-0000-4000-8000-000000000002 > "$T/t-legacy-fail.xml"
if out=$($VIRSH create "$T/t-legacy-fail.xml" 2>&1); then fail "t-legacy-fail started"; fi
echo "$out"
grep -q "legacy says no" <<<"$out" || fail "the script's stderr is not in libvirt's error"
grep -q "hookd: VM t-legacy-fail: legacy hook $L2/10-no failed with exit status 4" <<<"$out" ||
	fail "no hookd line naming the script"

echo "--- a configured VM whose device is absent: prepare refused, libvirt shows hookd's line"
printf '[device.gpu]\naddress = 0a:00.0\n' > "$CONF/vms/t-refused.ini"
kill -HUP "$hookd_pid"
domain_xml t-refused 6f1c3a52-0000-4000-8000-000000000003 > "$T/t-refused.xml"
for _ in $(seq 1200); do "$PROBE" "$SOCK" t-refused 2>/dev/null | grep -q "CONFIGURED yes" && break; sleep 0.05; done
if out=$($VIRSH create "$T/t-refused.xml" 2>&1); then fail "t-refused started"; fi
echo "$out"
grep -q "hookd: VM t-refused: 0000:0a:00.0 (gpu): no such PCI device" <<<"$out" || fail "hookd's line is not in the error"
$VIRSH domstate t-refused >/dev/null 2>&1 && fail "t-refused is running"
# A failed prepare is still followed by release.
expect_events t-refused "prepare begin" "stopped end" "release end"

echo "--- hookd down: an unconfigured VM starts, a configured one is refused with the way out"
stop_hookd
domain_xml t-free 6f1c3a52-0000-4000-8000-000000000004 > "$T/t-free.xml"
$VIRSH create "$T/t-free.xml" >/dev/null
$VIRSH destroy t-free >/dev/null
if out=$($VIRSH create "$T/t-refused.xml" 2>&1); then fail "t-refused started without hookd"; fi
grep -q "hookd: VM t-refused is configured for hookd but the daemon is not running (start it with: systemctl start hookd.socket)" <<<"$out" ||
	fail "no 'daemon is not running' line: $out"

echo "--- restarts while a guest runs: hookd, then libvirtd (reconnect begin reaches hookd)"
start_hookd
$VIRSH create "$T/t-life.xml" >/dev/null
stop_hookd
start_hookd
expect_events t-life # empty: a new daemon starts with no history
stop_libvirtd
start_libvirtd
for _ in $(seq 1200); do
	"$PROBE" "$SOCK" t-life 2>/dev/null | grep -q "EVENT reconnect begin ok" && break
	sleep 0.05
done
expect_events t-life "reconnect begin"
[ "$($VIRSH domstate t-life)" = running ] || fail "t-life did not survive the libvirtd restart"
$VIRSH destroy t-life >/dev/null
expect_events t-life "reconnect begin" "stopped end" "release end"

stop_hookd
echo "PASS"
