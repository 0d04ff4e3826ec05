#!/bin/bash
# testbed-timeout: 1200
# The engine against the same sysfs writes done by a minimal shell script, in the same guest:
#  - the GPU pair (with release-console) and the NVMe, prepare + release, ratio engine/shell (goal <= 1.2);
#  - 1, 8 and 24 NVMe in one VM: time per device, as a ratio against the 1-device figure (goal: flat).
# Each figure is the median of ROUNDS runs. The engine runs in one process (`engine-tool cycle`), as in the
# daemon; the cost of starting a process per call (what engine-tool prepare/release pay) is printed apart.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

ROUNDS=${ROUNDS:-7}
read -r -a extra <<<"$NVME_EXTRA"
((${#extra[@]} >= 24)) || fail "the bench suite needs 24 extra NVMe, found ${#extra[@]}"
modprobe vfio-pci

# now_us VAR: microseconds from bash's own clock into VAR. No process is started: under TCG one `date`
# costs 0.2-0.5 s, and the one that reads the end time would land inside the timed window.
now_us() { printf -v "$1" '%s' "${EPOCHREALTIME//[.,]/}"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# The minimal shell: what a hand-written hook does, no checks, no journal.
shell_move() {
	local vt=$1 bdf
	shift
	[[ -n "$vt" ]] && printf 0 >"$vt/bind"
	for bdf in "$@"; do
		printf vfio-pci >"$SYSFS_PCI/$bdf/driver_override"
		[[ -L $SYSFS_PCI/$bdf/driver ]] && printf '%s' "$bdf" >"$SYSFS_PCI/$bdf/driver/unbind"
		printf '%s' "$bdf" >/sys/bus/pci/drivers_probe
	done
	for bdf in "$@"; do
		printf '%s' "$bdf" >"$SYSFS_PCI/$bdf/driver/unbind"
		printf '\n' >"$SYSFS_PCI/$bdf/driver_override"
		printf '%s' "$bdf" >/sys/bus/pci/drivers_probe
	done
	[[ -n "$vt" ]] && printf 1 >"$vt/bind"
	return 0
}

# compare SHELL-ARGS -- VM: interleaved rounds (so drift in the guest hits both alike) of the shell script
# and of one warm in-process engine cycle; prints "SHELL_US ENGINE_US", each the median.
compare() {
	local args=() vm i t0 t1
	while [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	vm=$2
	: >/tmp/shell.us
	: >/tmp/engine.us
	for ((i = 0; i < ROUNDS; i++)); do
		sleep 1 # untimed, as engine-tool cycle does between rounds: asynchronous probes finish
		now_us t0
		shell_move "${args[@]}" || fail "the shell script failed"
		now_us t1
		echo $((t1 - t0)) >>/tmp/shell.us
		"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" cycle "$vm" 2 2>/dev/null >>/tmp/engine.us ||
			fail "engine-tool cycle $vm failed"
	done
	echo "$(median </tmp/shell.us) $(median </tmp/engine.us)"
}

# time_rounds CMD...: median microseconds of ROUNDS runs.
time_rounds() {
	local i t0 t1
	for ((i = 0; i < ROUNDS; i++)); do
		now_us t0
		"$@" >/dev/null 2>&1 || fail "$* failed in round $i"
		now_us t1
		echo $((t1 - t0))
	done | median
}

engine_processes() {
	"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" prepare "$1" &&
		"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" release "$1"
}

step "GPU pair + NVMe: engine vs shell"
vm_config bench <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
[device.ssd]
address = $NVME
INI
vt=$(fbcon_vtcon)
read -r shell_us engine_us < <(compare "$vt" "$GPU_VGA" "$GPU_AUDIO" "$NVME" -- bench)
process_us=$(time_rounds engine_processes bench)
assert_on_host "$GPU_VGA" bochs-drm >/dev/null
assert_on_host "$NVME" nvme >/dev/null
echo "figure: gpu-pair+nvme prepare+release: shell ${shell_us} us, engine ${engine_us} us, ratio $(ratio "$engine_us" "$shell_us") (goal <= 1.2)"
echo "figure: the same as two engine-tool processes: ${process_us} us, ratio $(ratio "$process_us" "$shell_us") (process start-up included)"

step "scaling: 1, 8, 24 NVMe in one VM"
per1=
for n in 1 8 24; do
	{
		for ((i = 0; i < n; i++)); do
			printf '[device.d%d]\naddress = %s\n' "$i" "${extra[$i]}"
		done
	} >"$ENGINE_CONF/vms/scale$n.ini"
	read -r base_us us < <(compare "" "${extra[@]:0:n}" -- "scale$n")
	per=$((us / n))
	[[ -n "$per1" ]] || per1=$per
	echo "figure: $n NVMe: engine ${us} us, ${per} us/device, per-device ratio vs 1: $(ratio "$per" "$per1"); shell ${base_us} us, engine/shell $(ratio "$us" "$base_us")"
done
for bdf in "${extra[@]}"; do
	assert_on_host "$bdf" nvme >/dev/null
done
echo "ok: every NVMe back on nvme"
