#!/bin/bash
# isolate-cpus on systemd's real slices (issue 13): a VM pinned by its <cputune> takes its CPUs from
# system.slice, user.slice and init.scope (those that are active) through systemd's D-Bus API and from the
# unbound workqueues; the cgroups' effective cpusets and the host's own processes show it. A second VM that
# overlaps keeps what it needs when the first stops; hookd killed with -9 while both changes are held is
# recovered from its journal; after the last VM everything is as before, exactly, and each slice holds the
# explicit full set rather than an empty AllowedCPUs. The first VM also steers interrupts (steer-irqs, with
# the unit drop-in hookd.vm.ini(5) gives for it): the host's movable IRQs leave its CPUs, the NVMe's own
# are steered or reported as refused (managed), and every affinity is as before after release. Then kill -9
# at three exact steps, with this build's hookd (-Dfault-injection=true) in the unit through a runtime
# drop-in: in a prepare, (i) system.slice written, the next slice journaled APPLYING but not written, and
# (ii) every change made and the NVMe bound to vfio-pci but not yet journaled: each time libvirt's start
# fails, its release restores; in a release, (iii) the NVMe back and the IRQs and workqueue restored, no
# AllowedCPUs yet: the next hookd's start-up reconciliation finishes it. After each, the host is exactly as
# before. The guest has 4 CPUs (the testbed's --smp).
# testbed-timeout: 720
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

# The helpers below set the variable named by their first argument instead of printing: a `fail` inside
# $(...) or a pipeline ends only that subshell, and the scenario went on with an empty value. Each one fails
# naming what it read. Their own locals start with "_" so that printf -v reaches the caller's variable.
cpu_list_re='^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$'

# effective VAR SLICE: the CPUs its processes may use, as the kernel computes them (the parent's when the
# slice has no cpuset controller of its own).
effective() {
	local _f=/sys/fs/cgroup/$2/cpuset.cpus.effective _v=""
	[[ -r "$_f" ]] || _f=/sys/fs/cgroup/cpuset.cpus.effective
	read -r _v <"$_f" || true
	[[ "$_v" =~ $cpu_list_re ]] || fail "$2: $_f reads '$_v', not a CPU list"
	printf -v "$1" %s "$_v"
}
# cpus_of VAR PID WHO: the CPUs the process may run on now. /proc/PID/status is read whole, in one pass:
# bash's `read` loop seeks back after each line and the kernel regenerates the file at each seek, so a
# line-by-line read of a process whose state changes meanwhile (PID 1 busy: "R (running)" is one byte
# shorter than "S (sleeping)") lost the first byte of a line, here "Cpus_allowed_list" (13 of 3000 such
# reads of a busy process on the build machine, none with mapfile).
cpus_of() {
	local _f=/proc/$2/status _line _v="" _lines=()
	[[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$3: '$2' is not a pid"
	mapfile -t _lines <"$_f" || fail "$3: cannot read $_f"
	for _line in "${_lines[@]}"; do
		[[ "$_line" == Cpus_allowed_list:* ]] && _v=${_line#Cpus_allowed_list:} && _v=${_v//[[:space:]]/}
	done
	[[ "$_v" =~ $cpu_list_re ]] ||
		fail "$3: no CPU list in $_f's Cpus_allowed_list ('$_v'); ${#_lines[@]} lines: $(printf '%s|' "${_lines[@]}")"
	printf -v "$1" %s "$_v"
}
# journald_pid VAR: systemd-journald's main pid (a unit without a main process reads 0: say so).
journald_pid() {
	local _v
	_v=$(systemctl show -p MainPID --value systemd-journald.service)
	[[ "$_v" =~ ^[1-9][0-9]*$ ]] ||
		fail "systemd-journald.service's MainPID reads '$_v' (ActiveState $(unit_state systemd-journald.service))"
	printf -v "$1" %s "$_v"
}
# workqueue_mask VAR: the unbound workqueues' cpumask as a number.
workqueue_mask() {
	local _v=""
	read -r _v <"$wq" || true
	[[ "$_v" =~ ^[0-9a-f,]+$ ]] || fail "$wq reads '$_v', not a CPU mask"
	printf -v "$1" %d "$((16#${_v//,/}))"
}
# irq_affinities: "N LIST" for every IRQ with an affinity, ascending (bash builtins only: one per IRQ).
irq_affinities() {
	local d aff
	for d in /proc/irq/[0-9]*; do
		[[ -r $d/smp_affinity_list ]] && read -r aff <"$d/smp_affinity_list" && echo "${d##*/} $aff"
	done | sort -n
}
# host_state FILE: every slice's effective cpuset, journald's (system.slice) and PID 1's (init.scope) CPUs,
# and the workqueue mask, one line each, into FILE and on stdout.
host_state() {
	local s v pid
	: >"$1"
	for s in "${slices[@]}"; do
		effective v "$s"
		echo "$s effective $v" >>"$1"
	done
	journald_pid pid
	cpus_of v "$pid" "journald (pid $pid)"
	echo "journald $v" >>"$1"
	cpus_of v 1 "PID 1"
	echo "pid1 $v" >>"$1"
	workqueue_mask v
	echo "workqueue $v" >>"$1"
	cat "$1"
}
# expect_host CPUS MASK: the host runs on CPUS alone (a list as the kernel prints it), the workqueues on MASK.
expect_host() {
	local want=$1 mask=$2 s v pid
	host_state /tmp/state.txt
	for s in "${slices[@]}"; do
		effective v "$s"
		[[ "$v" == "$want" ]] || fail "$s: effective cpuset $v, expected $want"
	done
	journald_pid pid
	cpus_of v "$pid" "journald (pid $pid)"
	[[ "$v" == "$want" ]] || fail "journald (system.slice, pid $pid) may run on $v, expected $want"
	cpus_of v 1 "PID 1"
	[[ "$v" == "$want" ]] || fail "PID 1 (init.scope) may run on $v, expected $want"
	workqueue_mask v
	((v == 16#$mask)) || fail "workqueue cpumask is $(printf %x "$v"), expected $mask"
	echo "ok: the host runs on $want, the unbound workqueues on mask $mask"
}

step "before: the host's state (${SECONDS} s)"
host_state /tmp/before.txt
irq_affinities >/tmp/irqs-before.txt
echo "$(wc -l </tmp/irqs-before.txt) IRQs with an affinity"
nvme_irqs=()
for f in /sys/bus/pci/devices/"$NVME"/msi_irqs/*; do nvme_irqs+=("${f##*/}"); done
echo "the NVMe's vectors: ${nvme_irqs[*]}"
for s in "${slices[@]}"; do
	echo "$s AllowedCPUs='$(systemctl show -p AllowedCPUs --value "$s")'"
done

step "steer-irqs needs /proc/irq writable: the drop-in hookd.vm.ini(5) gives"
steer_dropin=/run/systemd/system/hookd.service.d/steer-irqs.conf
mkdir -p "${steer_dropin%/*}"
cat >"$steer_dropin" <<'UNIT'
[Service]
ProtectKernelTunables=no
ReadOnlyPaths=-/proc/sys -/proc/sysrq-trigger -/proc/acpi -/proc/bus -/proc/fs -/proc/scsi -/sys
ReadWritePaths=-/proc/irq
UNIT
systemctl daemon-reload
systemctl stop hookd.service

step "cpuvm (vCPUs on 1 and 2, emulator on 2) with isolate-cpus; cpuvm2 (2-3) overlaps it"
vm_ini cpuvm <<INI
[vm]
isolate-cpus = yes
vm-cpus = auto
steer-irqs = yes

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
hookctl check cpuvm >/tmp/check.txt || { cat /tmp/check.txt; fail "hookctl check cpuvm refused"; }
cat /tmp/check.txt
# The CPUs come from the domain XML libvirt has (vm-cpus = auto): check reads it as prepare will.
for s in "${slices[@]}"; do
	grep -qx "    AllowedCPUs of $s: .* -> without CPUs 1-2" /tmp/check.txt || fail "check does not plan $s without CPUs 1-2"
done
grep -qx "    unbound workqueues' cpumask, workqueue: f -> without CPUs 1-2" /tmp/check.txt ||
	fail "check does not plan the workqueue cpumask without CPUs 1-2"

step "virsh start cpuvm: the host keeps CPUs 0 and 3"
vsh 240 start cpuvm
expect_host 0,3 9

step "steer-irqs: the host's IRQs off CPUs 1-2 unless the kernel refuses (then reported), the NVMe's onto them"
irq_affinities >/tmp/irqs-cpuvm.txt
hookctl status cpuvm --json >/tmp/status-cpuvm.json || true
python3 - "$NVME" <<'PY' || fail "steer-irqs did not do what it said"
import json, sys
nvme = sys.argv[1]
before = dict(l.split() for l in open("/tmp/irqs-before.txt"))
now = dict(l.split() for l in open("/tmp/irqs-cpuvm.txt"))
vm = json.load(open("/tmp/status-cpuvm.json"))
vm = next(v for v in vm["vms"] if v["name"] == "cpuvm")
changes = {c["target"]: c for c in vm["engine"]["host_changes"] if c["kind"] == "irq-affinity"}
def cpus(text):
    out = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out
vmc = {1, 2}
bad = []
steered = refused = 0
for irq, aff in sorted(before.items(), key=lambda kv: int(kv[0])):
    was = cpus(aff)
    if not (was & vmc) or not (was - vmc):
        continue  # nothing to take off the VM's CPUs, or nowhere else to go
    c = changes.get(irq)
    if irq not in now:
        continue  # freed since (the NVMe's vectors when nvme let go of it)
    if c and c["wanted"].startswith("on:"):
        continue  # the NVMe's own (its legacy line, when it has a number of its own): checked below
    if c and c.get("applied", "").startswith("unchanged"):
        refused += 1
        print(f"IRQ {irq}: {aff}, left: {c['applied']}")
        continue
    if cpus(now[irq]) & vmc:
        bad.append(f"IRQ {irq}: {aff} before, {now[irq]} now, journal: {c}")
    else:
        steered += 1
        print(f"IRQ {irq}: {aff} -> {now[irq]}")
print(f"{steered} host IRQs moved off CPUs 1-2, {refused} refused by the kernel and reported")
for irq, c in sorted(changes.items(), key=lambda kv: int(kv[0])):
    if c["wanted"].startswith("on:"):
        print(f"NVMe IRQ {irq}: {c['before']} -> {c.get('applied')} (now: {now.get(irq, 'gone: freed with nvme')})")
        if irq in now and not c.get("applied", "").startswith("unchanged") and not cpus(now[irq]) <= vmc:
            bad.append(f"NVMe IRQ {irq}: {now[irq]} now, not on CPUs 1-2, journal: {c}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad or steered == 0 else 0)
PY

step "virsh start cpuvm2: the host keeps CPU 0"
vsh 240 start cpuvm2
expect_host 0 1
assert_driver "$GPU_VGA" vfio-pci
assert_qemu_holds cpuvm2 "$(group_of "$GPU_VGA")"
hookctl status >/tmp/status.txt || true
cat /tmp/status.txt
for s in "${slices[@]}"; do
	grep -qx "    AllowedCPUs of $s: 0 (the host's: unset), shared with VM cpuvm" /tmp/status.txt ||
		fail "status does not show cpuvm2 holding $s at 0, shared with cpuvm"
done
grep -q "^  $GPU_VGA (gpu) *vfio-pci" /tmp/status.txt || fail "status does not show cpuvm2's GPU on vfio-pci"

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

# expect_irqs_as_before WHEN: every IRQ's affinity as before the first VM.
expect_irqs_as_before() {
	local -A was=()
	local irq aff
	while read -r irq aff; do was[$irq]=$aff; done </tmp/irqs-before.txt
	# The NVMe's own vectors are freed when nvme lets go of it and allocated again (other numbers, other
	# affinities: managed ones) when it comes back: not compared, nor are IRQs gone or new.
	for irq in "${nvme_irqs[@]}"; do unset "was[$irq]"; done
	irq_affinities >/tmp/irqs-now.txt
	while read -r irq aff; do
		[[ -z "${was[$irq]:-}" || "${was[$irq]}" == "$aff" ]] || fail "$1: IRQ $irq has affinity $aff, it had ${was[$irq]}"
	done </tmp/irqs-now.txt
	echo "ok: $1: every IRQ's affinity as before"
}

# expect_as_before WHEN: the host's CPUs, every IRQ's affinity and each slice's AllowedCPUs (the explicit
# full set) as before the first VM.
expect_as_before() {
	local s a
	host_state /tmp/after.txt
	diff -u /tmp/before.txt /tmp/after.txt || fail "$1: the host's CPUs differ from before"
	expect_irqs_as_before "$1"
	for s in "${slices[@]}"; do
		a=$(systemctl show -p AllowedCPUs --value "$s")
		echo "$s AllowedCPUs='$a'"
		[[ "$a" == 0-3 ]] || fail "$1: $s: AllowedCPUs '$a', expected the explicit full set 0-3"
	done
	echo "ok: $1: the host's CPUs, IRQ affinities and AllowedCPUs as before"
}

step "after the last VM: the host exactly as before, each slice's AllowedCPUs the explicit full set"
expect_as_before "after the last VM"

echo "the two VMs, steer-irqs and the kill while held: ${SECONDS} s"

# kill -9 inside a prepare, at an exact step: this build's hookd (fault injection) runs in hookd.service
# through a runtime drop-in, with HOOKD_FAULT=crash-at:STEP; systemd restarts it after the kill, and the
# release libvirt runs for the failed start undoes what the journal says was done.
hookd_bin=$HOOKD_BUILD/hookd/daemon/hookd
[[ -x "$hookd_bin" ]] || fail "no hookd in the build dir ($hookd_bin): give the testbed --build-dir"
grep -q 'crash-at:' "$hookd_bin" || fail "$hookd_bin is built without -Dfault-injection=true"
dropin=/run/systemd/system/hookd.service.d/testbed-fault.conf
# fault_hookd SPEC [RESTART]: hookd.service stopped, then run as this build's hookd with HOOKD_FAULT=SPEC and
# Restart=RESTART (default: the unit's own), or as the package's again when SPEC is empty.
fault_hookd() {
	systemctl stop hookd.service
	mkdir -p "${dropin%/*}"
	if [[ -z "$1" ]]; then
		rm -f "$dropin"
	else
		# The build dir is bound at its host path, which may be under /home or /tmp: the unit's ProtectHome
		# and PrivateTmp would hide it (exit 203/EXEC, and the hook's connection reset by the socket).
		printf '[Service]\nEnvironment=HOOKD_FAULT=%s\nProtectHome=no\nPrivateTmp=no\nExecStart=\nExecStart=%s --conf-dir /etc/hookd\n%s' \
			"$1" "$hookd_bin" "${2:+Restart=$2$'\n'}" >"$dropin"
	fi
	systemctl daemon-reload
}
# kills: how many times systemd saw hookd.service's main process killed by SIGKILL.
kills() {
	journalctl -q -o cat -u hookd.service | grep -c 'code=killed, status=9/KILL' || true
}
# killed_since N WHAT: the journal shows more than N such kills; journald may write systemd's line a little
# after virsh returned (a CI run saw it late once), so it is waited for, up to 30 s.
killed_since() {
	local end=$((SECONDS + 30))
	until (($(kills) > $1)); do
		if ((SECONDS >= end)); then
			echo "hookd.service: $(systemctl show -p Result -p ExecMainCode -p ExecMainStatus -p NRestarts hookd.service | tr '\n' ' ')"
			journalctl --no-pager -q -o short-monotonic -u hookd.service -u hookd.socket | tail -n 15
			fail "hookd was not killed at $2 (the journal shows $(kills) SIGKILLs of hookd.service, as before)"
		fi
		nap 0.5
	done
}
crash_start() {
	local spec=$1 n
	fault_hookd "$spec"
	# Each kill counts against the units' start limit: cleared, so three kills in a minute do not fail
	# hookd.socket.
	systemctl reset-failed hookd.service hookd.socket
	n=$(kills)
	if vsh 240 start cpuvm; then
		fail "virsh start cpuvm succeeded although hookd was to be killed at $spec"
	fi
	killed_since "$n" "$spec"
	echo "ok: hookd killed at $spec, virsh start failed"
	assert_devices_on_host
	expect_as_before "after the kill at $spec"
	journal_lines VM=cpuvm | tail -n 8
}

step "kill -9 with ${slices[0]} written and ${slices[1]} journaled APPLYING, before its write"
crash_start "crash-at:host-apply:allowed-cpus:${slices[1]}"

echo "kill (i): ${SECONDS} s"
step "kill -9 after every change was made and the NVMe bound to vfio-pci, before it was journaled"
crash_start "crash-at:verify:$NVME"

echo "kill (ii): ${SECONDS} s"

# kill -9 inside a release: the VM runs (started by the fault hookd, whose prepare does not reach the
# fault), then virsh destroy's release is killed once the NVMe is back on nvme and the IRQs and the
# workqueue mask are restored, before the first slice's AllowedCPUs is. Restart=no, else the restarted
# hookd's own recovery would reach the same fault point; the package's hookd then starts (as at a reboot
# or the next hook call) and its start-up reconciliation releases what the journal still holds for the
# VM libvirt no longer runs.
last_slice=${slices[${#slices[@]} - 1]}
step "kill -9 in release with the NVMe back, the IRQs and the workqueue restored, before AllowedCPUs of $last_slice"
fault_hookd "crash-at:host-restore:allowed-cpus:$last_slice" no
systemctl reset-failed hookd.service hookd.socket
vsh 240 start cpuvm
expect_host 0,3 9
n=$(kills)
vsh 120 destroy cpuvm
killed_since "$n" "host-restore:allowed-cpus:$last_slice"
assert_unit hookd.service failed
assert_devices_on_host
for s in "${slices[@]}"; do
	effective v "$s"
	[[ "$v" == 0,3 ]] || fail "$s: effective cpuset $v after the kill, expected 0,3 still (AllowedCPUs not restored yet)"
done
workqueue_mask v
((v == 16#f)) || fail "the workqueue cpumask is $(printf %x "$v") after the kill, expected f (restored before it)"
expect_irqs_as_before "killed in release"
echo "ok: killed with the devices back, the IRQs and the workqueue restored and every slice still on 0,3"
fault_hookd ""
systemctl reset-failed hookd.service hookd.socket
systemctl start hookd.service
# The start-up reconciliation restores in the background: wait for the last slice it writes (the first).
end=$((SECONDS + 120))
until a=$(systemctl show -p AllowedCPUs --value "${slices[0]}") && [[ "$a" == 0-3 ]]; do
	((SECONDS < end)) || fail "the restarted hookd did not restore ${slices[0]}'s AllowedCPUs in 120 s ('$a')"
	nap 0.5
done
journal_lines VM=cpuvm | tail -n 8
expect_as_before "after the kill in release and hookd's start"
echo "kill (iii): ${SECONDS} s"

rm -f "$steer_dropin"
systemctl daemon-reload
vsh 30 undefine cpuvm
vsh 30 undefine cpuvm2
rm -f /etc/hookd/vms/cpuvm.ini /etc/hookd/vms/cpuvm2.ini
