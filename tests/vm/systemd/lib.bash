# shellcheck shell=bash
# Helpers for the systemd guest's scenarios (tests/vm/systemd-scenarios/*.sh). Runs INSIDE that guest only,
# sourced after tests/vm/lib.sh (whose helpers it uses). There hookd is the installed package, run by systemd;
# libvirtd is libvirt-daemon-system's, run by systemd; the root is a per-run copy of a Debian image, so what a
# scenario changes stays for the scenarios after it (and across a reboot), not for the next run.
#
#   hookd_installed                    is the package installed?
#   install_hookd                      apt install "$HOOKD_DEB" (offline: the image has its dependencies)
#   unit_state UNIT                    ActiveState of UNIT (active, inactive, failed, activating, ...)
#   assert_unit UNIT STATE             ... or fail, with `systemctl status`
#   wait_unit UNIT STATE SECS          wait until UNIT is in STATE
#   hookd_pids                         the pids of running hookd processes (none: empty)
#   assert_no_hookd                    no hookd process runs
#   sd_domain_xml NAME UUID BDF...     a persistent domain's XML (managed='no' hostdevs), as define wants it
#   define_domain NAME UUID BDF...     virsh define it
#   assert_devices_on_host             every topology device on its boot driver, no override, no /dev/vfio/N
#   assert_qemu_holds NAME GROUP...    the domain's QEMU holds /dev/vfio/GROUP for each GROUP
#   journal_lines FIELD=VALUE...       hookd's journal entries matching the fields, one MESSAGE per line
#   request_reboot                     end this scenario's first part; the guest reboots and runs it again
#                                      with TESTBED_BOOT one higher
#   vm_ini NAME                        write /etc/hookd/vms/NAME.ini from stdin (0644)
#   (on exit, every running domain is destroyed: a failed scenario gives the devices back)
#   legacy_hook_setup                  the VFIO-Tools dispatcher at /etc/libvirt/hooks/qemu, with a script
#                                      for VM legacy at prepare begin that appends to $LEGACY_LOG
#   host_snapshot                      what an install and a purge may change: hooks, /etc/hookd, units,
#                                      diversions, accounts (compared by 70-purge)
#   TESTBED_STATE                      a directory on the guest's disk for scenarios to hand results on

[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "systemd/lib.bash: source tests/vm/lib.sh first (in the testbed guest only)" >&2; exit 2; }
[[ "${TESTBED_GUEST:-}" == systemd && -d /run/systemd/system ]] ||
	{ echo "systemd/lib.bash: this scenario runs in the systemd guest only (tests/vm/testbed --guest systemd)" >&2; exit 2; }

# shellcheck source-path=SCRIPTDIR/.. source=../libvirt-guest.bash
. "$HOOKD_SRC/tests/vm/libvirt-guest.bash"

export NO_COLOR=1 SYSTEMD_PAGER='' SYSTEMD_COLORS=0

# A scenario that fails with a VM running must not leave it holding the devices (the next scenario and the
# runner's device check would inherit it): destroy what runs, so hookd gives the devices back.
_sd_cleanup() {
	local rc=$? d
	# A scenario that ran hookd.service through runtime drop-ins (45-isolate-cpus' fault-injection hookd)
	# and failed midway: the packaged hookd again, its start limit reset, before anything is destroyed, so
	# the release goes through it and the next scenario does not inherit a failed hookd.socket.
	if compgen -G "/run/systemd/system/hookd.service.d/*.conf" >/dev/null; then
		echo "cleanup: hookd.service's runtime drop-ins removed, the packaged hookd back" >&2
		rm -f /run/systemd/system/hookd.service.d/*.conf
		systemctl daemon-reload
		systemctl stop hookd.service >/dev/null 2>&1 || true
		systemctl reset-failed hookd.service hookd.socket >/dev/null 2>&1 || true
		systemctl start hookd.socket >/dev/null 2>&1 || echo "cleanup: hookd.socket does not start" >&2
	fi
	for d in $(vsh 30 list --name 2>/dev/null); do
		echo "cleanup: virsh destroy $d" >&2
		vsh 120 destroy "$d" >/dev/null 2>&1 || echo "cleanup: virsh destroy $d failed" >&2
	done
	return "$rc"
}
trap _sd_cleanup EXIT
TESTBED_STATE=/var/lib/hookd-testbed
LEGACY_LOG=/var/log/legacy-hook.log
mkdir -p "$TESTBED_STATE"

hookd_installed() {
	[[ "$(dpkg-query -W -f '${Status}' hookd 2>/dev/null)" == "install ok installed" ]]
}

install_hookd() {
	[[ -n "${HOOKD_DEB:-}" && -f "$HOOKD_DEB" ]] ||
		fail "no hookd package to install: give the testbed --deb FILE (dpkg-buildpackage's hookd_*.deb)"
	echo "# apt install $HOOKD_DEB"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$HOOKD_DEB" 2>&1 | tail -n 15
	hookd_installed || fail "hookd is not installed after apt install $HOOKD_DEB"
}

unit_state() {
	systemctl show -P ActiveState "$1"
}

assert_unit() {
	local state
	state=$(unit_state "$1")
	if [[ "$state" != "$2" ]]; then
		systemctl status --no-pager -n 20 "$1" >&2 || true
		fail "$1 is $state, expected $2"
	fi
	echo "ok: $1 is $2"
}

wait_unit() {
	local end=$((SECONDS + $3))
	until [[ "$(unit_state "$1")" == "$2" ]]; do
		if ((SECONDS >= end)); then
			systemctl status --no-pager -n 20 "$1" >&2 || true
			fail "$1 is $(unit_state "$1") after $3 s, expected $2"
		fi
		nap 0.2
	done
}

hookd_pids() {
	local d comm pids=()
	for d in /proc/[0-9]*; do
		read -r comm <"$d/comm" 2>/dev/null || continue
		[[ "$comm" == hookd ]] && pids+=("${d##*/}")
	done
	echo "${pids[*]}"
}

assert_no_hookd() {
	local pids
	pids=$(hookd_pids)
	[[ -z "$pids" ]] || fail "hookd runs (pid $pids), expected no hookd process"
	echo "ok: no hookd process"
}

sd_domain_xml() {
	domain_xml "$@"
}

define_domain() {
	local name=$1
	sd_domain_xml "$@" >"/tmp/$name.xml"
	vsh 60 define "/tmp/$name.xml"
}

# The devices' drivers at boot: the guest GPU's VGA and the host display on bochs-drm, the audio on
# snd_hda_intel, both NVMe on nvme, the e1000 without a driver.
assert_devices_on_host() {
	assert_driver "$GPU_VGA" bochs-drm
	assert_driver "$GPU_AUDIO" snd_hda_intel
	assert_driver "$HOST_VGA" bochs-drm
	assert_driver "$NVME" nvme
	assert_driver "$SPLIT_NVME" nvme
	local bdf
	for bdf in "$GPU_VGA" "$GPU_AUDIO" "$HOST_VGA" "$NVME" "$SPLIT_NVME" "$SPLIT_E1000"; do
		assert_override "$bdf" ""
	done
	for bdf in "$GPU_VGA" "$NVME" "$SPLIT_NVME"; do
		assert_vfio_dev "$(group_of "$bdf")" absent
	done
	echo "ok: every device on its host driver, no driver_override, no /dev/vfio group node"
}

assert_qemu_holds() {
	local name=$1 pid group
	shift
	pid=$(qemu_pid "$name")
	ls -l "/proc/$pid/fd" >"/tmp/$name-qemu-fds"
	for group in "$@"; do
		grep -Eq -- "-> /dev/vfio/$group\$" "/tmp/$name-qemu-fds" ||
			fail "QEMU of $name (pid $pid) does not hold /dev/vfio/$group"
	done
	echo "ok: QEMU of $name (pid $pid) holds /dev/vfio/{$(
		IFS=,
		echo "$*"
	)}"
}

journal_lines() {
	journalctl --no-pager -q -o cat SYSLOG_IDENTIFIER=hookd "$@"
}

request_reboot() {
	: >"$HOOKD_RESULTS/.reboot"
	echo "asking the runner for a reboot; this scenario runs again in boot $((TESTBED_BOOT + 1))"
	exit 0
}

vm_ini() {
	mkdir -p /etc/hookd/vms
	cat >"/etc/hookd/vms/$1.ini"
	chmod 0644 "/etc/hookd/vms/$1.ini"
}

legacy_hook_setup() {
	mkdir -p /etc/libvirt/hooks/qemu.d/legacy/prepare/begin
	# The dispatcher of VFIO-Tools (PassthroughPOST), as the tutorials install it.
	cat >/etc/libvirt/hooks/qemu <<'HOOK'
#!/bin/bash
GUEST_NAME="$1"
HOOK_NAME="$2"
STATE_NAME="$3"
MISC="${@:4}"

BASEDIR="$(dirname $0)"

HOOKPATH="$BASEDIR/qemu.d/$GUEST_NAME/$HOOK_NAME/$STATE_NAME"
set -e # If a script exits with an error, we should as well.

if [ -f "$HOOKPATH" ]; then
  eval \""$HOOKPATH"\" "$@"
elif [ -d "$HOOKPATH" ]; then
  while read file; do
    eval \""$file"\" "$@"
  done <<< "$(find -L "$HOOKPATH" -maxdepth 1 -type f -executable -print;)"
fi
HOOK
	cat >/etc/libvirt/hooks/qemu.d/legacy/prepare/begin/10-mark.sh <<MARK
#!/bin/sh
echo "\$*" >>$LEGACY_LOG
MARK
	chmod 0755 /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d/legacy/prepare/begin/10-mark.sh
}

host_snapshot() {
	local d
	echo "# files under /etc/libvirt/hooks, /etc/hookd and /var/lib/hookd"
	find /etc/libvirt/hooks /etc/hookd /var/lib/hookd -printf '%p %y %m %u:%g %l\n' 2>/dev/null | LC_ALL=C sort
	find /etc/libvirt/hooks /etc/hookd /var/lib/hookd -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0r sha256sum
	echo "# hookd's units and binaries"
	for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system /usr/sbin /usr/bin /usr/libexec; do
		find "$d" -name '*hookd*' -printf '%p\n' 2>/dev/null
	done | LC_ALL=C sort
	echo "# diversions of hook paths"
	dpkg-divert --list | grep -E 'libvirt|hookd' | LC_ALL=C sort || true
	echo "# accounts"
	sha256sum /etc/passwd /etc/group
	echo "# /run/hookd"
	ls -A /run/hookd 2>/dev/null || echo "(none)"
}
