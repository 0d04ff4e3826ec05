# shellcheck shell=bash
# A real libvirtd inside the testbed guest, with this build's hook installed. Runs INSIDE the guest only
# (its /etc, /var and /run are guest RAM, so nothing here touches the host). Sourced after lib.sh.
#
#   libvirt_setup          qemu.conf for a root, namespace-free, cgroup-free qemu driver; the libvirt-qemu
#                          user; the hook at /etc/libvirt/hooks/qemu (before libvirtd starts: libvirt looks
#                          for hooks only then)
#   libvirtd_start         start libvirtd, wait for /run/libvirt/libvirt-sock (exports LIBVIRTD_PID)
#   libvirtd_stop          SIGTERM, wait; fails if it would not stop
#   vsh SECS ARGS...       virsh on qemu:///system, bounded by SECS
#   domain_xml NAME UUID BDF...   a TCG domain without disk holding the PCI functions (managed='no')
#   qemu_pid NAME          the nested QEMU's pid from libvirt's pid file
#   libvirt_cleanup        destroy every running domain, stop libvirtd, unmount what libvirt_setup mounted
#                          (for an EXIT trap; harmless when nothing was started)

# It installs a hook into /etc and starts libvirtd: only in the guest, after lib.sh checked it is one.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "libvirt-guest.bash: source tests/vm/lib.sh first (in the testbed guest only)" >&2; exit 2; }

LIBVIRT_HOOK=/etc/libvirt/hooks/qemu
LIBVIRTD_LOG="${HOOKD_RESULTS:-/tmp}/libvirtd.log"

# The build's compiled-in default for NAME (from hookd-config.h), e.g. HOOKD_CONF_DIR.
build_default() {
	local line re="^#define $1 \"(.*)\"\$"
	while IFS= read -r line; do
		[[ "$line" =~ $re ]] && echo "${BASH_REMATCH[1]}" && return 0
	done <"$HOOKD_BUILD/hookd-config.h"
	fail "$1 is not in $HOOKD_BUILD/hookd-config.h"
}

# libvirt gives a hook only PATH and a few variables, so the hook must find hookd on its compiled-in
# paths. When the build's defaults are the ones hookd_start uses (a --prefix=/usr build), the real binary is
# the hook, as a package would install it; otherwise a two-line wrapper points it at them.
libvirt_install_hook() {
	require_bin "$HOOKD_HOOK_BIN"
	mkdir -p "${LIBVIRT_HOOK%/*}"
	rm -f "$LIBVIRT_HOOK"
	if [[ "$(build_default HOOKD_CONF_DIR)" == /etc/hookd &&
		"$(build_default HOOKD_SOCKET_PATH)" == /run/hookd/hookd.sock &&
		"$(build_default HOOKD_LIBVIRT_HOOKS_DIR)" == "${LIBVIRT_HOOK%/*}" ]]; then
		ln -s "$HOOKD_HOOK_BIN" "$LIBVIRT_HOOK"
		echo "hook: $LIBVIRT_HOOK -> $HOOKD_HOOK_BIN (the build's defaults are /etc/hookd, /run/hookd)"
	else
		cat >"$LIBVIRT_HOOK" <<EOF
#!/bin/sh
HOOKD_SOCKET=/run/hookd/hookd.sock HOOKD_CONF_DIR=/etc/hookd HOOKD_HOOKS_DIR=${LIBVIRT_HOOK%/*} exec $HOOKD_HOOK_BIN "\$@"
EOF
		chmod 0755 "$LIBVIRT_HOOK"
		echo "hook: $LIBVIRT_HOOK is a wrapper exporting /etc/hookd and /run/hookd (the build's defaults differ)"
	fi
}

libvirt_setup() {
	[[ -x /usr/sbin/libvirtd ]] || fail "libvirtd is not installed on the host (tests/install-deps: libvirt-daemon libvirt-daemon-driver-qemu)"
	command -v virsh >/dev/null || fail "virsh is not installed on the host (tests/install-deps: libvirt-clients)"
	# The account files come from the host's /etc over 9p, which the host may change meanwhile (its own
	# libvirt test adds and removes libvirt-qemu): copy them up into guest RAM first, so what is checked
	# here is what libvirtd later reads.
	local f
	for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow; do
		if [[ -e $f ]]; then
			cp -p "$f" "$f.hookd-copy"
			mv -f "$f.hookd-copy" "$f"
		fi
	done
	# libvirt's qemu driver looks its default user up even when qemu.conf says root.
	if ! getent passwd libvirt-qemu >/dev/null || ! getent group libvirt-qemu >/dev/null; then
		userdel libvirt-qemu 2>/dev/null || true
		groupdel libvirt-qemu 2>/dev/null || true
		useradd --system --no-create-home --user-group --shell /usr/sbin/nologin libvirt-qemu
	fi
	# The host's own libvirt state (defined or autostarted domains and networks, hooks, caches) is visible
	# through the 9p root: this test's libvirt starts from empty directories, and /etc/libvirt from a copy
	# of the host's configuration, all on tmpfs that libvirt_cleanup unmounts, so the next scenario in the
	# same boot finds the guest as it was.
	[[ -z "${LIBVIRT_MOUNTS:-}" ]] || fail "libvirt_setup: already set up"
	local d pristine=/tmp/libvirt-etc-pristine
	rm -rf "$pristine"
	mkdir -p /etc/libvirt
	cp -a /etc/libvirt "$pristine"
	for d in /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /run/libvirt; do
		mkdir -p "$d"
		mount -t tmpfs -o mode=0755 tmpfs "$d"
		LIBVIRT_MOUNTS="$d ${LIBVIRT_MOUNTS:-}"
	done
	cp -a "$pristine"/. /etc/libvirt/
	rm -rf "$pristine" /etc/libvirt/qemu /etc/libvirt/hooks
	mkdir -p /etc/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu
	cat "$HOOKD_SRC/tests/libvirt/qemu-test.conf" >>/etc/libvirt/qemu.conf
	libvirt_install_hook
}

libvirtd_start() {
	[[ -z "${LIBVIRTD_PID:-}" ]] || fail "libvirtd_start: libvirtd already running (pid $LIBVIRTD_PID)"
	rm -f /run/libvirt/libvirt-sock
	echo "starting libvirtd (log: $LIBVIRTD_LOG)"
	LIBVIRT_LOG_OUTPUTS="3:file:$LIBVIRTD_LOG" /usr/sbin/libvirtd >>"$LIBVIRTD_LOG.out" 2>&1 &
	LIBVIRTD_PID=$!
	export LIBVIRTD_PID
	local end=$((SECONDS + 61))
	until [[ -S /run/libvirt/libvirt-sock ]]; do
		if ! kill -0 "$LIBVIRTD_PID" 2>/dev/null; then
			LIBVIRTD_PID=
			tail -n 20 "$LIBVIRTD_LOG" "$LIBVIRTD_LOG.out" >&2
			fail "libvirtd exited before creating /run/libvirt/libvirt-sock"
		fi
		((SECONDS < end)) || fail "libvirtd did not create /run/libvirt/libvirt-sock within 60s"
		nap 0.1
	done
	echo "libvirtd running (pid $LIBVIRTD_PID)"
}

libvirtd_stop() {
	[[ -n "${LIBVIRTD_PID:-}" ]] || fail "libvirtd_stop: libvirtd is not running"
	local pid=$LIBVIRTD_PID end=$((SECONDS + 21))
	LIBVIRTD_PID=
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= end)); then
			kill -KILL "$pid" 2>/dev/null || true
			fail "libvirtd (pid $pid) ignored SIGTERM for 20s and was killed"
		fi
		nap 0.1
	done
	wait "$pid" 2>/dev/null || true
	echo "libvirtd stopped"
}

# vsh SECS ARGS...: virsh with a bound; a hung libvirt fails the step instead of the whole scenario's timeout.
vsh() {
	local secs=$1
	shift
	timeout -k 5 "$secs" virsh -q -c qemu:///system "$@"
}

# domain_xml NAME UUID BDF...: a tiny TCG guest (q35, 128 MiB, no disk, no display, a pty serial) with the
# PCI functions as unmanaged hostdevs: libvirt expects them on vfio-pci already, which is hookd's job.
# DOMAIN_XML_EXTRA, when set, is more of the domain's elements (<vcpu>, <cputune>), placed after <memory>.
domain_xml() {
	local name=$1 uuid=$2 bdf
	shift 2
	cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>128</memory>${DOMAIN_XML_EXTRA:+
  $DOMAIN_XML_EXTRA}
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
EOF
	for bdf in "$@"; do
		[[ "$bdf" =~ ^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$ ]] || fail "domain_xml: bad address '$bdf'"
		printf "    <hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source></hostdev>\n" \
			"${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}"
	done
	cat <<EOF
  </devices>
</domain>
EOF
}

# qemu_pid NAME: the running domain's QEMU process.
qemu_pid() {
	local pid='' file=/run/libvirt/qemu/$1.pid
	[[ -e "$file" ]] || fail "no pid file $file for domain $1"
	read -r pid <"$file" || true # libvirt writes it without a newline
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "$file holds '$pid', not a pid"
	[[ -d "/proc/$pid" ]] || fail "domain $1: QEMU pid $pid is not running"
	echo "$pid"
}

libvirt_cleanup() {
	local d pid=${LIBVIRTD_PID:-} end=$((SECONDS + 21))
	if [[ -n "$pid" ]]; then
		for d in $(vsh 30 list --name 2>/dev/null); do
			vsh 30 destroy "$d" >/dev/null 2>&1 || true
		done
		LIBVIRTD_PID=
		kill -TERM "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do
			nap 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	for d in ${LIBVIRT_MOUNTS:-}; do
		umount -l "$d" || echo "libvirt_cleanup: cannot unmount $d" >&2
	done
	LIBVIRT_MOUNTS=
}
