#!/bin/bash
# Holders on the real kernel. A process with the GPU's DRM card open: prepare is refused before anything is
# written, naming it, and check lists it. The race: a poller opens the card every 50 ms (holding it 20 ms)
# through 20 prepares; each either fails naming the poller (refused by the checks, or found again just
# before the unbind and rolled back) or succeeds (then released); none runs past its deadline, and after
# each the pair is wholly on its host drivers or wholly on vfio-pci.
# testbed-timeout: 280
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

ROUNDS=20
OPERATION_TIMEOUT_MS=20000
# Beyond the operation's own deadline: engine-tool's start and exit under TCG.
SLACK_MS=5000

# The GPU's DRM card node (its number changes when a held card is unbound and bound again).
card_of_gpu() {
	local cards=(/sys/bus/pci/devices/"$GPU_VGA"/drm/card*)
	[[ -e ${cards[0]} ]] || return 1
	echo "/dev/dri/${cards[0]##*/}"
}

assert_pair_on_host() {
	assert_on_host "$GPU_VGA" bochs-drm
	assert_on_host "$GPU_AUDIO" snd_hda_intel
}

vm_config gpu <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI

step "the GPU's card held open: refused before anything changes, naming the process"
card=$(card_of_gpu) || fail "no DRM card under $GPU_VGA"
wait_for "$card" 10
sleep 600 3<"$card" &
holder=$!
engine_refused "^VM gpu: $GPU_VGA \\(gpu\\) is in use by pid $holder \\(sleep, user root\\)$" prepare gpu
assert_pair_on_host
assert_vtcon_bound yes
assert_journal_gone gpu

step "check lists the holder with what it holds"
engine check gpu || true
grep -q "\"VM gpu: $GPU_VGA (gpu) is in use by pid $holder (sleep, user root): $card\"" "$ENGINE_OUT" ||
	fail "check does not list pid $holder holding $card"
kill "$holder"
wait "$holder" 2>/dev/null || true
engine check gpu
grep -q '"ok": *true' "$ENGINE_OUT" || fail "check still refuses once the holder is gone"

step "the race: a poller opens the card every 50 ms through $ROUNDS prepares"
poll_card() {
	local node
	while :; do
		if node=$(card_of_gpu) && [[ -e $node ]]; then
			{ nap 0.02; } 2>/dev/null 3<"$node" || true
		fi
		nap 0.03
	done
}
poll_card &
poller=$!
refused=0 rolled_back=0 moved=0 slowest=0
for ((round = 1; round <= ROUNDS; round++)); do
	start=${EPOCHREALTIME/./}
	rc=0
	"$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" --sysfs-timeout 2000 \
		--operation-timeout "$OPERATION_TIMEOUT_MS" prepare gpu >"$ENGINE_OUT" 2>&1 || rc=$?
	elapsed=$(((${EPOCHREALTIME/./} - start) / 1000))
	((elapsed > slowest)) && slowest=$elapsed
	((elapsed <= OPERATION_TIMEOUT_MS + SLACK_MS)) ||
		fail "round $round: prepare took $elapsed ms, past its $OPERATION_TIMEOUT_MS ms deadline"
	if ((rc == 0)); then
		moved=$((moved + 1))
		echo "round $round: moved ($elapsed ms)"
		assert_on_vfio "$GPU_VGA" >/dev/null
		assert_on_vfio "$GPU_AUDIO" >/dev/null
		engine_ok release gpu >/dev/null
	else
		grep -Eq "^VM gpu: $GPU_VGA \\(gpu\\) is in use by pid $poller \\(" "$ENGINE_OUT" ||
			fail "round $round: prepare failed without naming the poller (pid $poller): $(tail -n 2 "$ENGINE_OUT")"
		if [[ -e "$ENGINE_RUN/state/gpu.state" ]]; then
			# Found again just before the unbind: the prepare failed and rolled back.
			rolled_back=$((rolled_back + 1))
			echo "round $round: found before the unbind, rolled back ($elapsed ms)"
			engine_ok release gpu >/dev/null
		else
			refused=$((refused + 1))
			echo "round $round: refused by the checks ($elapsed ms)"
		fi
	fi
	assert_pair_on_host >/dev/null
	assert_vtcon_bound yes >/dev/null
	assert_journal_gone gpu >/dev/null
done
kill "$poller"
wait "$poller" 2>/dev/null || true
echo "$ROUNDS rounds: $refused refused by the checks, $rolled_back found before the unbind and rolled back," \
	"$moved moved and released; slowest prepare $slowest ms (deadline $OPERATION_TIMEOUT_MS ms)"
((refused + rolled_back > 0)) || fail "the poller was never seen in $ROUNDS rounds"
assert_pair_on_host
