#!/bin/bash
# isolate-cpus on systemd's real slices (issue 13): a VM pinned by its <cputune> takes its CPUs from
# system.slice, user.slice and init.scope (those that are active) through systemd's D-Bus API and from the
# unbound workqueues; the cgroups' effective cpusets and the host's own processes show it. A second VM that
# overlaps keeps what it needs when the first stops; hookd killed with -9 while both changes are held is
# recovered from its journal; after the last VM everything is as before, exactly, and each slice holds the
# explicit full set rather than an empty AllowedCPUs. The guest has 4 CPUs (the testbed's --smp).
# testbed-timeout: 480
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"
hookd_installed || fail "hookd is not installed (10-install runs first)"

read -r online </sys/devices/system/cpu/online
[[ "$online" == 0-3 ]] || fail "this scenario needs CPUs 0-3 online (the testbed's --smp 4), the guest has $online"
wq=/sys/devices/virtual/workqueue/cpumask
slices=()
for s in system.slice user.slice init.scope; do
	[[ "$(systemctl is-active "$s" || true)" == active ]] && slices+=("$s")
done
echo "active slices: ${slices[*]}"
((${#slices[@]} >= 2)) || fail "expected system.slice and init.scope at least, found: ${slices[*]}"

# effective SLICE: the CPUs its processes may use, as the kernel computes them (the parent's when the slice
# has no cpuset controller of its own).
effective() {
	local f=/sys/fs/cgroup/$1/cpuset.cpus.effective v
	[[ -r "$f" ]] || f=/sys/fs/cgroup/cpuset.cpus.effective
	read -r v <"$f"
	echo "$v"
}
# cpus_of PID: the CPUs the process may run on now.
cpus_of() {
	local line
	while read -r line; do
		[[ "$line" == Cpus_allowed_list:* ]] && { echo "${line##*:[[:space:]]}"; return; }
	done <"/proc/$1/status"
	fail "no Cpus_allowed_list for pid $1"
}
journald_pid() {
	systemctl show -p MainPID --value systemd-journald.service
}
# host_state: every slice's effective cpuset, journald's (system.slice) and PID 1's (init.scope) CPUs, and
# the workqueue mask, one line each.
host_state() {
	local s mask
	for s in "${slices[@]}"; do
		echo "$s effective $(effective "$s")"
	done
	echo "journald $(cpus_of "$(journald_pid)")"
	echo "pid1 $(cpus_of 1)"
	read -r mask <"$wq"
	echo "workqueue $((16#${mask//,/}))"
}
# expect_host CPUS MASK: the host runs on CPUS alone (a list as the kernel prints it), the workqueues on MASK.
expect_host() {
	local want=$1 mask=$2 s
	host_state | tee /tmp/state.txt
	for s in "${slices[@]}"; do
		[[ "$(effective "$s")" == "$want" ]] || fail "$s: effective cpuset $(effective "$s"), expected $want"
	done
	[[ "$(cpus_of "$(journald_pid)")" == "$want" ]] || fail "journald (system.slice) may run on $(cpus_of "$(journald_pid)"), expected $want"
	[[ "$(cpus_of 1)" == "$want" ]] || fail "PID 1 (init.scope) may run on $(cpus_of 1), expected $want"
	grep -qx "workqueue $((16#$mask))" /tmp/state.txt || fail "workqueue cpumask is not $mask"
	echo "ok: the host runs on $want, the unbound workqueues on mask $mask"
}

step "before: the host's state"
host_state | tee /tmp/before.txt
for s in "${slices[@]}"; do
	echo "$s AllowedCPUs='$(systemctl show -p AllowedCPUs --value "$s")'"
done

step "cpuvm (vCPUs on 1 and 2, emulator on 2) with isolate-cpus; cpuvm2 (2-3) overlaps it"
vm_ini cpuvm <<INI
[vm]
isolate-cpus = yes
vm-cpus = auto

[device.ssd]
address = $NVME
INI
vm_ini cpuvm2 <<INI
[vm]
isolate-cpus = yes
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
DOMAIN_XML_EXTRA="<vcpu placement='static'>2</vcpu><cputune><vcpupin vcpu='0' cpuset='1'/><vcpupin vcpu='1' cpuset='2'/><emulatorpin cpuset='2'/></cputune>" \
	define_domain cpuvm 5a1f0c3e-0000-4000-8000-00000000c001 "$NVME"
DOMAIN_XML_EXTRA="<vcpu placement='static' cpuset='2-3'>1</vcpu>" \
	define_domain cpuvm2 5a1f0c3e-0000-4000-8000-00000000c002 "$GPU_VGA" "$GPU_AUDIO"
hookctl check cpuvm | tee /tmp/check.txt || fail "hookctl check cpuvm refused"

step "virsh start cpuvm: the host keeps CPUs 0 and 3"
vsh 240 start cpuvm
expect_host 0,3 9

step "virsh start cpuvm2: the host keeps CPU 0"
vsh 240 start cpuvm2
expect_host 0 1
hookctl status | tee /tmp/status.txt

step "virsh destroy cpuvm: CPU 1 comes back, 2-3 stay with cpuvm2"
vsh 120 destroy cpuvm
expect_host 0-1 3

step "kill -9 hookd while cpuvm2 holds the CPUs; virsh destroy cpuvm2 starts it again, which restores"
pid=$(systemctl show -p MainPID --value hookd.service)
[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "hookd.service has no main PID ($pid)"
kill -9 "$pid"
expect_host 0-1 3 # nothing restored by a crash
vsh 120 destroy cpuvm2
assert_devices_on_host

step "after the last VM: the host exactly as before, each slice's AllowedCPUs the explicit full set"
host_state | tee /tmp/after.txt
diff -u /tmp/before.txt /tmp/after.txt || fail "the host's CPUs differ from before"
for s in "${slices[@]}"; do
	a=$(systemctl show -p AllowedCPUs --value "$s")
	echo "$s AllowedCPUs='$a'"
	[[ "$a" == 0-3 ]] || fail "$s: AllowedCPUs '$a' after release, expected the explicit full set 0-3"
done
vsh 30 undefine cpuvm
vsh 30 undefine cpuvm2
rm -f /etc/hookd/vms/cpuvm.ini /etc/hookd/vms/cpuvm2.ini
