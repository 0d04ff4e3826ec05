#!/bin/bash
# Benchmark: hookd against libvirt's own hostdev handling, in one boot of the systemd guest (the package
# installed, hookd run by systemd through its socket). For the NVMe, then the GPU pair (VGA with the boot
# console + its audio): the time from `virsh start` to the domain running, and from `virsh destroy` to every
# device back on its host driver (driver_override cleared), for
#   hookd:   <hostdev managed='no'> and /etc/hookd/vms/VM.ini (hookd moves the devices), and
#   libvirt: <hostdev managed='yes'> and no hookd file (libvirt detaches and reattaches them itself; hookd's
#            hook still runs and answers at once, as on a host where hookd is installed),
# interleaved (hookd, libvirt, hookd, libvirt, ...) after one unmeasured warm-up of each. Prints the medians,
# the ratio hookd/libvirt, and virsh's own cost per call (`virsh domstate`) as a floor both include.
# No thresholds: the figures are printed; the scenario fails only when a move itself fails.
# testbed-timeout: 1200
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || { echo "run me with tests/vm/testbed --guest systemd --suite bench" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR/.. source=../systemd/lib.bash
. "$HOOKD_SRC/tests/vm/systemd/lib.bash"

ROUNDS=${HOOKD_BENCH_ROUNDS:-5}

# ms_since T0: whole milliseconds from the $EPOCHREALTIME value T0 to now.
ms_since() {
	local now=$EPOCHREALTIME
	echo $(((${now/./} - ${1/./}) / 1000))
}

# median N...: the median of integers (the lower middle one for an even count).
median() {
	local sorted
	mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
	echo "${sorted[(${#sorted[@]} - 1) / 2]}"
}

# ratio A B: A/B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# on_host BDF DRIVER...: every BDF on its DRIVER with no driver_override (arguments in pairs).
on_host() {
	local bdf drv o
	while (($#)); do
		bdf=$1 drv=$2
		shift 2
		[[ "$(driver_of "$bdf")" == "$drv" ]] || return 1
		o=$(override_of "$bdf")
		[[ -z "$o" ]] || return 1
	done
}

# measure NAME PAIRS...: one start and one destroy of domain NAME; appends to START_MS and STOP_MS.
# PAIRS: BDF DRIVER ... of the devices and their host drivers.
measure() {
	local name=$1 t0 bdf i
	shift
	on_host "$@" || fail "before starting $name, a device is not on its host driver"
	t0=$EPOCHREALTIME
	vsh 300 start "$name" >/dev/null || fail "virsh start $name failed"
	START_MS+=("$(ms_since "$t0")")
	for ((i = 1; i <= $#; i += 2)); do
		bdf=${!i}
		[[ "$(driver_of "$bdf")" == vfio-pci ]] || fail "$name runs but $bdf is on $(driver_of "$bdf"), not vfio-pci"
	done
	t0=$EPOCHREALTIME
	vsh 300 destroy "$name" >/dev/null || fail "virsh destroy $name failed"
	local end=$((SECONDS + 120))
	until on_host "$@"; do
		((SECONDS < end)) || fail "after virsh destroy $name the devices are not back within 120 s"
		nap 0.01
	done
	STOP_MS+=("$(ms_since "$t0")")
}

# forget_unmanaged PAIRS...: libvirt (9.0) keeps a device an unmanaged hostdev used in its list of inactive
# devices, with no note that it must be rebound, and a later managed='yes' domain reuses that record: its
# destroy then leaves the device on vfio-pci. `virsh nodedev-reattach` of a device already back on its host
# driver drops the record and changes nothing. Outside the timed parts.
forget_unmanaged() {
	local bdf name
	while (($#)); do
		bdf=$1
		shift 2
		name=pci_${bdf//[:.]/_}
		vsh 120 nodedev-reattach "$name" >/dev/null || fail "virsh nodedev-reattach $name failed"
	done
}

# bench LABEL PAIRS...: hookd's domain hk-LABEL against libvirt's lv-LABEL, interleaved; prints the figures.
bench() {
	local label=$1 round who
	shift
	local -a hk_start=() hk_stop=() lv_start=() lv_stop=()
	step "$label: one warm-up of each, then $ROUNDS interleaved rounds"
	for ((round = 0; round <= ROUNDS; round++)); do
		for who in hk lv; do
			START_MS=() STOP_MS=()
			measure "$who-$label" "$@"
			[[ $who == hk ]] && forget_unmanaged "$@"
			echo "round $round $who-$label: start ${START_MS[0]} ms, destroy to host ${STOP_MS[0]} ms"
			((round == 0)) && continue
			if [[ $who == hk ]]; then
				hk_start+=("${START_MS[0]}") hk_stop+=("${STOP_MS[0]}")
			else
				lv_start+=("${START_MS[0]}") lv_stop+=("${STOP_MS[0]}")
			fi
		done
	done
	local hs ls hd ld
	hs=$(median "${hk_start[@]}") ls=$(median "${lv_start[@]}")
	hd=$(median "${hk_stop[@]}") ld=$(median "${lv_stop[@]}")
	FIGURES+=("$(printf '%-9s start to running:     hookd %6d ms, libvirt %6d ms, hookd/libvirt %sx' \
		"$label" "$hs" "$ls" "$(ratio "$hs" "$ls")")")
	FIGURES+=("$(printf '%-9s destroy to host:      hookd %6d ms, libvirt %6d ms, hookd/libvirt %sx' \
		"$label" "$hd" "$ld" "$(ratio "$hd" "$ld")")")
	FIGURES+=("$(printf '%-9s start + destroy:      hookd %6d ms, libvirt %6d ms, hookd/libvirt %sx' \
		"$label" $((hs + hd)) $((ls + ld)) "$(ratio $((hs + hd)) $((ls + ld)))")")
	printf '%s\n' "${FIGURES[@]: -3}"
}

# systemd-analyze time waits for the whole boot transaction, which holds the runner's own unit: ask for the
# moment multi-user.target was reached instead (monotonic, from the kernel's start).
step "the guest's boot to multi-user.target (TCG on a shared host)"
reached=$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)
FIGURES=("guest boot: multi-user.target reached $((reached / 1000)) ms after the kernel started")
echo "${FIGURES[0]}"

step "install the package; hookd.socket listens"
hookd_installed || install_hookd
wait_unit hookd.socket active 60
# libvirtd is socket-activated (and exits after 2 idle minutes): the first virsh call starts it.
assert_devices_on_host

step "the domains: hk-* (managed='no' + a hookd file), lv-* (managed='yes', no hookd file)"
vm_ini hk-nvme <<INI
[device.ssd]
address = $NVME
INI
vm_ini hk-gpu <<INI
[vm]
release-console = yes

[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
domain_xml hk-nvme 5a1f0c3e-0000-4000-8000-00000000e001 "$NVME" >/tmp/hk-nvme.xml
domain_xml hk-gpu 5a1f0c3e-0000-4000-8000-00000000e002 "$GPU_VGA" "$GPU_AUDIO" >/tmp/hk-gpu.xml
domain_xml lv-nvme 5a1f0c3e-0000-4000-8000-00000000e003 "$NVME" | sed "s/managed='no'/managed='yes'/" >/tmp/lv-nvme.xml
domain_xml lv-gpu 5a1f0c3e-0000-4000-8000-00000000e004 "$GPU_VGA" "$GPU_AUDIO" |
	sed "s/managed='no'/managed='yes'/" >/tmp/lv-gpu.xml
for d in hk-nvme hk-gpu lv-nvme lv-gpu; do
	vsh 300 define "/tmp/$d.xml" >/dev/null || fail "virsh define $d failed"
done
grep -c "managed='yes'" /tmp/lv-gpu.xml >/dev/null || fail "lv-gpu.xml has no managed='yes' hostdev"

step "virsh's own cost per call (a floor in every figure below): virsh domstate, 5 times"
floor=()
for _ in 1 2 3 4 5; do
	t0=$EPOCHREALTIME
	vsh 60 domstate hk-nvme >/dev/null
	floor+=("$(ms_since "$t0")")
done
FIGURES+=("virsh call (domstate), median of 5: $(median "${floor[@]}") ms")

bench nvme "$NVME" nvme

# The GPU pair: libvirt unbinds bochs-drm with the boot console on it itself (no console release); say so
# when it cannot, and keep the NVMe figures.
step "gpu: can libvirt move the GPU pair (VGA with the console + audio) itself, managed='yes'?"
gpu_pairs=("$GPU_VGA" bochs-drm "$GPU_AUDIO" snd_hda_intel)
if timeout -k 5 300 virsh -q -c qemu:///system start lv-gpu >/tmp/lv-gpu.out 2>&1; then
	vsh 300 destroy lv-gpu >/dev/null || fail "virsh destroy lv-gpu failed"
	end=$((SECONDS + 120))
	until on_host "${gpu_pairs[@]}"; do
		((SECONDS < end)) || fail "libvirt did not give the GPU pair back within 120 s"
		nap 0.05
	done
	echo "yes: libvirt started lv-gpu and gave the GPU pair back"
	bench gpu "${gpu_pairs[@]}"
else
	echo "no: $(tr '\n' ' ' </tmp/lv-gpu.out)"
	FIGURES+=("gpu: not measured, libvirt could not start lv-gpu with managed='yes': $(head -n 3 /tmp/lv-gpu.out | tr '\n' ' ')")
	on_host "${gpu_pairs[@]}" || fail "the failed libvirt start left the GPU pair off its host drivers"
fi

assert_devices_on_host >/dev/null
step "figures (medians of $ROUNDS interleaved rounds, TCG guest)"
printf '%s\n' "${FIGURES[@]}" | tee "$HOOKD_RESULTS/figures.txt"
