#!/bin/bash
# testbed-timeout: 1200
# The holder scan against fuser, on the real kernel: N processes holding unrelated files and 10 holding the
# boot GPU's nodes (its DRM card and framebuffer). For N = 250, 500, 1000 it prints the scan's time for the
# device (engine-tool holders: holders.c in one process, median of 10) and fuser's for the same nodes (the
# card, the framebuffer, the resource files; one exec'd run, median of 5, minus the median exec of
# /bin/true measured the same way), their ratio (goal <= 1.00), and each per process (linear: the same per
# process at every N). Both must name exactly the 10 holders.
[[ -n "${_TESTBED_LIB_SOURCED:-}" ]] || {
	echo "run me with tests/vm/testbed" >&2
	exit 2
}

ENGINE_TOOL="$HOOKD_BUILD/tests/vm/engine-tool"
FUSER=$(command -v fuser) || skip "fuser (psmisc) is not installed on the host"
require_bin "$ENGINE_TOOL"

now_us() { printf -v "$1" '%s' "${EPOCHREALTIME//[.,]/}"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

cards=(/sys/bus/pci/devices/"$GPU_VGA"/drm/card*)
[[ -e ${cards[0]} ]] || fail "no DRM card under $GPU_VGA"
card=/dev/dri/${cards[0]##*/}
fb=/dev/$(fb_of "$GPU_VGA")
[[ -c $card && -c $fb ]] || fail "$card or $fb is not a character device"
resources=(/sys/bus/pci/devices/"$GPU_VGA"/resource[0-9]*)
nodes=("$card" "$fb" "${resources[@]}")
echo "nodes for fuser: ${nodes[*]}"

# Every holder is a forked bash (no exec: an exec costs 0.2-0.5 s under TCG) blocked reading a FIFO it has
# open both ways, with its own extra file open on fd 3.
mkfifo /tmp/holders-bench.fifo
pids=()
hold() {
	(read -r _ <>/tmp/holders-bench.fifo) 3<"$1" &
	pids+=($!)
}
for ((i = 0; i < 5; i++)); do
	hold "$card"
	hold "$fb"
done
holding=("${pids[@]}")
unrelated=(/etc/hostname /etc/passwd "$HOOKD_SRC/README.md" /proc/version)

step "holders of $GPU_VGA: ${holding[*]}"
for n in 250 500 1000; do
	while ((${#pids[@]} < n + 10)); do
		hold "${unrelated[${#pids[@]} % ${#unrelated[@]}]}"
	done
	nap 1
	procs=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)

	"$ENGINE_TOOL" holders "$GPU_VGA" 11 >/tmp/holders-bench.out
	found=$(grep -c '^pid ' /tmp/holders-bench.out || true)
	((found == 10)) || { cat /tmp/holders-bench.out; fail "the scan named $found holders, not 10"; }
	scan=$(awk '$1 == "scan-usec" {print $2}' /tmp/holders-bench.out)

	fuser_times=() true_times=()
	for ((r = 0; r < 5; r++)); do
		now_us t0
		"$FUSER" "${nodes[@]}" >/tmp/fuser.out 2>/dev/null || true
		now_us t1
		/bin/true
		now_us t2
		fuser_times+=($((t1 - t0)))
		true_times+=($((t2 - t1)))
	done
	read -ra fuser_pids </tmp/fuser.out || true # no newline at its end
	((${#fuser_pids[@]} == 10)) || fail "fuser named ${#fuser_pids[@]} processes, not 10: ${fuser_pids[*]}"
	fuser_all=$(printf '%s\n' "${fuser_times[@]}" | median)
	exec_cost=$(printf '%s\n' "${true_times[@]}" | median)
	fuser_work=$((fuser_all - exec_cost))
	echo "processes $procs: scan $scan us ($(ratio "$scan" "$procs") us/process)," \
		"fuser $fuser_work us ($fuser_all us exec'd, /bin/true $exec_cost us," \
		"$(ratio "$fuser_work" "$procs") us/process); scan/fuser = $(ratio "$scan" "$fuser_work")"
done
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
rm -f /tmp/holders-bench.fifo
