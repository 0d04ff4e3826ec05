# shellcheck shell=bash
# Helpers for testbed scenarios. Runs INSIDE the QEMU guest only.
#
# The scenario interface (stable; see also tests/vm/README.md):
#   - A scenario is a bash file tests/vm/scenarios/NN-name.sh. The guest runner runs each one in its own
#     process as root with `set -eu`, after sourcing this file (sourcing it again is harmless). Start it
#     with the guard line below, so that running it on the host by mistake stops before touching /sys:
#         [[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed" >&2; exit 2; }
#     Exit 0 = pass, anything else = fail, 77 = skip (use `skip "why"`; the testbed reports it as
#     "# SKIP why", and as a failure when CI=true).
#   - NN-name.scale.sh runs only in the `--suite scale` boot (24 extra NVMe drives, NVME_EXTRA);
#     NN-name.bench.sh only in `--suite bench`. Everything else runs in the default boot, in name order.
#   - A scenario must leave every device of the topology on the driver it found it on: the runner
#     compares before and after and fails the scenario otherwise.
#   - A line `# testbed-timeout: SECONDS` in the first 20 lines overrides the per-scenario timeout (300 s).
#   - Output (stdout and stderr) is the scenario's log: on failure the testbed prints it as TAP diagnostics.
#     Say what you check before you check it; the assert helpers below print what they saw on failure.
#   - Environment:
#       HOOKD_BUILD    meson build dir (binaries: $HOOKD_BUILD/hookd/daemon/hookd, $HOOKD_BUILD/hookd/hook/hookd-hook,
#                      $HOOKD_BUILD/hookctl/hookctl); same path as on the host, seen over read-only 9p
#       HOOKD_SRC      source dir (read-only)
#       HOOKD_RESULTS  a writable directory on the host for this scenario's extra artifacts
#       GPU_VGA GPU_AUDIO   the guest GPU: VGA (boot VGA, framebuffer console) + HDA audio, one IOMMU group
#       HOST_VGA            a second display device (bochs-display) that stays with the host
#       NVME                a guest NVMe alone in its IOMMU group
#       BRIDGE SPLIT_E1000 SPLIT_NVME   a PCIe-to-PCI bridge with an e1000 (no driver) and an NVMe behind
#                      it: one group that cannot be split
#       NVME_EXTRA     space-separated addresses of the extra NVMe drives (--nvme N), each alone in a group
#     All addresses are full 0000:bb:dd.f, discovered by vendor/device/class at boot.
#   - The filesystem is the host's /, read-only, under a tmpfs overlay: writes (e.g. /etc/hookd) stay in
#     guest RAM. /run is a fresh tmpfs; /tmp is the overlay's (the host's /tmp read-only, writes in RAM). There is no udev and no systemd; /dev is devtmpfs.

[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] && return 0

# These helpers write /sys. On the host that would unbind its root disk: refuse anywhere but the guest,
# whose kernel command line the testbed wrote.
read -r _testbed_cmdline </proc/cmdline || true
if [[ "$_testbed_cmdline" != *testbed.runner=* ]]; then
	echo "tests/vm/lib.sh: this is not the testbed's QEMU guest; run scenarios with tests/vm/testbed" >&2
	exit 2
fi
_TESTBED_LIB_SOURCED=1

SYSFS_PCI=/sys/bus/pci/devices

# Print a failure message with the caller's location and exit 1.
fail() {
	local i=1
	# Name the scenario's line, not the helper's.
	while [[ "${BASH_SOURCE[i]:-}" == */lib.sh ]]; do i=$((i + 1)); done
	echo "FAIL (${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}): $*" >&2
	exit 1
}

# The runner traps ERR with this, so a command that fails under `set -e` says where and what it was.
# Without a caller's frame it fired for an EXIT trap (e.g. a cleanup) that passed on an earlier failure's
# status: that failure, under `set -e` inside a function, printed nothing of its own.
_on_err() {
	if ((${#BASH_SOURCE[@]} < 2)); then
		echo "FAIL: a command inside a function exited with status $1 (set -e; see the output above)" >&2
		return
	fi
	echo "FAIL (${BASH_SOURCE[1]##*/}:$2): '$3' exited with status $1" >&2
}

# The scenario cannot run here for a reason it names (exit 77).
skip() {
	echo "SKIP: $*"
	exit 77
}

# Print a step so a failing log reads as a story.
step() {
	echo "--- $*"
}

_require_dev() {
	[[ -n "$1" && -e "$SYSFS_PCI/$1" ]] || fail "no PCI device '$1' in the guest"
}

# Under TCG every exec of a dynamically linked program costs ~0.2-0.5 s in the guest, so these helpers stay
# inside bash: `cd -P` resolves a symlink without forking, `read` reads a file without forking.

# link_target_name LINK: the last component of the directory a symlink points to (nothing if dangling).
link_target_name() {
	local here=$PWD
	if cd -P "$1" 2>/dev/null; then
		echo "${PWD##*/}"
		cd "$here" || true
	fi
}

# driver_of BDF: the bound driver's name, or "none".
driver_of() {
	_require_dev "$1"
	local link="$SYSFS_PCI/$1/driver"
	if [[ -L "$link" ]]; then
		link_target_name "$link"
	else
		echo none
	fi
}

assert_driver() {
	local bdf=$1 want=$2 got
	got=$(driver_of "$bdf")
	[[ "$got" == "$want" ]] || fail "$bdf: driver is '$got', expected '$want'"
	echo "ok: $bdf driver $got"
}

# override_of BDF: driver_override, or "" when unset (the 6.1 kernel prints "(null)").
override_of() {
	_require_dev "$1"
	local v
	read -r v <"$SYSFS_PCI/$1/driver_override" || true
	[[ "$v" == "(null)" ]] && v=""
	echo "$v"
}

# assert_override BDF VALUE: VALUE "" or "(null)" means unset.
assert_override() {
	local bdf=$1 want=$2 got
	[[ "$want" == "(null)" ]] && want=""
	got=$(override_of "$bdf")
	[[ "$got" == "$want" ]] || fail "$bdf: driver_override is '${got:-(unset)}', expected '${want:-(unset)}'"
	echo "ok: $bdf driver_override ${got:-(unset)}"
}

# group_of BDF: the IOMMU group number.
group_of() {
	_require_dev "$1"
	local link="$SYSFS_PCI/$1/iommu_group"
	[[ -L "$link" ]] || fail "$1 has no iommu_group (is the IOMMU on?)"
	link_target_name "$link"
}

# group_members GROUP: the addresses in an IOMMU group, sorted, one per line.
group_members() {
	local d="/sys/kernel/iommu_groups/$1/devices" f
	[[ -d "$d" ]] || fail "no IOMMU group $1"
	for f in "$d"/*; do
		[[ -e "$f" ]] && echo "${f##*/}"
	done
}

# assert_group_members BDF BDF...: the first device's group holds exactly these devices.
assert_group_members() {
	local group want got
	group=$(group_of "$1")
	want=$(printf '%s\n' "$@" | LC_ALL=C sort)
	got=$(group_members "$group")
	[[ "$got" == "$want" ]] || fail "IOMMU group $group holds [${got//$'\n'/ }], expected [${want//$'\n'/ }]"
	echo "ok: IOMMU group $group = [${got//$'\n'/ }]"
}

# assert_vfio_dev GROUP present|absent: /dev/vfio/GROUP.
assert_vfio_dev() {
	local group=$1 want=$2
	case "$want" in
	present) [[ -c "/dev/vfio/$group" ]] || fail "/dev/vfio/$group is absent, expected present" ;;
	absent) [[ ! -e "/dev/vfio/$group" ]] || fail "/dev/vfio/$group is present, expected absent" ;;
	*) fail "assert_vfio_dev: '$want' is neither present nor absent" ;;
	esac
	echo "ok: /dev/vfio/$group $want"
}

# fbcon_vtcon: the /sys/class/vtconsole/vtconN directory of the framebuffer console, or nothing.
fbcon_vtcon() {
	local v name
	for v in /sys/class/vtconsole/vtcon*; do
		[[ -e "$v/name" ]] || continue
		read -r name <"$v/name" || true
		if [[ "$name" == *"frame buffer device"* ]]; then
			echo "$v"
			return 0
		fi
	done
}

# vtcon_bound: succeeds when the framebuffer console is registered and bound.
vtcon_bound() {
	local v bound=0
	v=$(fbcon_vtcon)
	[[ -n "$v" ]] && read -r bound <"$v/bind"
	[[ "$bound" == 1 ]]
}

assert_vtcon_bound() {
	local want=$1 v state bound=0
	v=$(fbcon_vtcon)
	if [[ -z "$v" ]]; then
		state=absent
	else
		read -r bound <"$v/bind" || true
		state=$([[ "$bound" == 1 ]] && echo yes || echo no)
	fi
	case "$want" in
	yes) [[ "$state" == yes ]] || fail "framebuffer console bound: $state, expected yes" ;;
	no) [[ "$state" != yes ]] || fail "framebuffer console is bound (${v##*/}), expected not" ;;
	*) fail "assert_vtcon_bound: '$want' is neither yes nor no" ;;
	esac
	echo "ok: framebuffer console bound: $state"
}

# fb_of BDF: the framebuffer devices (fb0 ...) that belong to this PCI device, one per line.
fb_of() {
	local fb
	for fb in /sys/class/graphics/fb*; do
		[[ -L "$fb/device" ]] || continue
		[[ "$(link_target_name "$fb/device")" == "$1" ]] && echo "${fb##*/}"
	done
	return 0
}

# nap SECONDS: sleep without exec'ing sleep (a read that times out on a pipe we hold both ends of).
nap() {
	if [[ -z "${_NAP_FD:-}" ]]; then
		exec {_NAP_FD}<> <(:)
	fi
	read -r -t "$1" -u "$_NAP_FD" _ || true
}

# wait_for PATH SECONDS: wait until PATH exists; fail after SECONDS.
wait_for() {
	local path=$1 end=$((SECONDS + $2 + 1))
	until [[ -e "$path" ]]; do
		((SECONDS < end)) || fail "$path did not appear within $2s"
		nap 0.1
	done
}

# wait_gone PATH SECONDS: the opposite.
wait_gone() {
	local path=$1 end=$((SECONDS + $2 + 1))
	while [[ -e "$path" ]]; do
		((SECONDS < end)) || fail "$path still exists after $2s"
		nap 0.1
	done
}

# sysfs_write FILE VALUE: a write that names the file when the kernel refuses it.
sysfs_write() {
	local file=$1 value=$2
	printf 'write %q > %s\n' "$value" "$file"
	printf '%s' "$value" >"$file" || fail "write '$value' to $file failed"
}

# require_bin PATH: a project binary built by meson; fail clearly when it is not there.
require_bin() {
	[[ -n "${HOOKD_BUILD:-}" ]] || fail "no build dir: give the testbed --build-dir (needed for $1)"
	[[ -x "$1" ]] || fail "$1 is missing: build it first (meson compile -C $HOOKD_BUILD)"
}

HOOKD_BIN="${HOOKD_BUILD:-}/hookd/daemon/hookd"
HOOKD_HOOK_BIN="${HOOKD_BUILD:-}/hookd/hook/hookd-hook"
HOOKCTL_BIN="${HOOKD_BUILD:-}/hookctl/hookctl"
export HOOKD_BIN HOOKD_HOOK_BIN HOOKCTL_BIN

# hookd_start [EXTRA ARGS]: start the daemon in the background on the guest's real /sys, log to
# $HOOKD_RESULTS/hookd.log, wait for its socket, export HOOKD_SOCKET and HOOKD_PID.
hookd_start() {
	require_bin "$HOOKD_BIN"
	[[ -z "${HOOKD_PID:-}" ]] || fail "hookd_start: hookd already running (pid $HOOKD_PID)"
	mkdir -p /etc/hookd /run/hookd
	HOOKD_LOG="${HOOKD_RESULTS:-/tmp}/hookd.log"
	echo "starting hookd (log: $HOOKD_LOG)"
	# A socket left by an earlier hookd would pass for this one's below.
	rm -f /run/hookd/hookd.sock
	"$HOOKD_BIN" --conf-dir /etc/hookd --run-dir /run/hookd --sysfs-root /sys "$@" >>"$HOOKD_LOG" 2>&1 &
	HOOKD_PID=$!
	export HOOKD_PID HOOKD_LOG
	local end=$((SECONDS + 31))
	while ((SECONDS < end)); do
		[[ -S /run/hookd/hookd.sock ]] && break
		if ! kill -0 "$HOOKD_PID" 2>/dev/null; then
			local rc=0
			wait "$HOOKD_PID" || rc=$?
			HOOKD_PID=
			tail -n 20 "$HOOKD_LOG" | sed 's/^/hookd: /' >&2
			fail "hookd exited with status $rc before creating /run/hookd/hookd.sock"
		fi
		nap 0.1
	done
	[[ -S /run/hookd/hookd.sock ]] || fail "hookd did not create /run/hookd/hookd.sock within 30s"
	export HOOKD_SOCKET=/run/hookd/hookd.sock
	echo "hookd running (pid $HOOKD_PID)"
}

# hookd_stop: SIGTERM, wait up to 10 s, and fail if it had to be killed or exited non-zero.
hookd_stop() {
	[[ -n "${HOOKD_PID:-}" ]] || fail "hookd_stop: hookd is not running"
	local pid=$HOOKD_PID rc=0 end=$((SECONDS + 11))
	HOOKD_PID=
	kill -TERM "$pid" 2>/dev/null || true
	while ((SECONDS < end)); do
		kill -0 "$pid" 2>/dev/null || break
		nap 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		fail "hookd (pid $pid) ignored SIGTERM for 10s and was killed"
	fi
	wait "$pid" || rc=$?
	[[ $rc == 0 ]] || fail "hookd exited with status $rc on SIGTERM (log: $HOOKD_LOG)"
	echo "hookd stopped"
}
