#!/bin/bash
# testbed-timeout: 900
# kill -9 at every step of prepare and of release; after a restart (recover) the status tells the truth
# and the next release gives every device back to its driver with no driver_override left.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"
require_fault_injection

vm_config kvm <<INI
[vm]
release-console = yes
unload-modules = snd_hda_intel
[device.gpu]
address = $GPU_VGA
whole-group = yes
[device.ssd]
address = $NVME
INI

all_home() {
	assert_on_host "$GPU_VGA" bochs-drm >/dev/null
	assert_on_host "$GPU_AUDIO" snd_hda_intel >/dev/null
	assert_on_host "$NVME" nvme >/dev/null
	[[ -d /sys/module/snd_hda_intel ]] || fail "snd_hda_intel is not loaded again"
	assert_vtcon_bound yes >/dev/null
	assert_journal_gone kvm >/dev/null
	echo "ok: every device home, no override, module and console back"
}

# crash RC-EXPECTING CMD: the tool must die of SIGKILL (status 137).
crashed() {
	local rc=0
	HOOKD_FAULT="crash-at:$1" "$ENGINE_TOOL" --conf-dir "$ENGINE_CONF" --run-dir "$ENGINE_RUN" "$2" kvm \
		>"$ENGINE_OUT" 2>&1 || rc=$?
	[[ $rc == 137 ]] || fail "$2 with crash-at:$1 exited $rc, expected to be killed (137): $(cat "$ENGINE_OUT")"
	echo "ok: killed at $1 during $2"
}

# status_truthful: every device's reported driver is the one sysfs shows.
status_truthful() {
	local bdf want got
	engine_ok status kvm >/dev/null
	for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
		got=$(jq -r --arg a "$bdf" '.vms[0].devices[] | select(.address == $a) | .driver // "none"' "$ENGINE_OUT")
		want=$(driver_of "$bdf")
		[[ -z "$got" || "$got" == "$want" ]] || fail "status says $bdf is on $got, sysfs says $want"
	done
	echo "ok: status matches sysfs ($(jq -r '.vms[0].state' "$ENGINE_OUT"))"
}

prepare_steps=(console-release module-unload:snd_hda_intel vfio-load)
release_steps=()
# The audio function has no driver once snd_hda_intel is unloaded (no unbind), and loading the module
# again binds it by itself (no probe): those two steps do not exist for it.
for bdf in "$GPU_VGA" "$GPU_AUDIO" "$NVME"; do
	prepare_steps+=("override:$bdf")
	[[ $bdf == "$GPU_AUDIO" ]] || prepare_steps+=("unbind:$bdf")
	prepare_steps+=("probe:$bdf" "verify:$bdf")
	release_steps+=("release-unbind:$bdf" "release-override:$bdf")
	[[ $bdf == "$GPU_AUDIO" ]] || release_steps+=("release-probe:$bdf")
done
release_steps+=(module-reload:snd_hda_intel console-restore)

for s in "${prepare_steps[@]}"; do
	step "kill -9 during prepare at $s"
	crashed "$s" prepare
	engine_ok recover
	status_truthful
	engine_ok release kvm
	all_home
done

for s in "${release_steps[@]}"; do
	step "kill -9 during release at $s"
	engine_ok prepare kvm
	crashed "$s" release
	engine_ok recover
	status_truthful
	engine_ok release kvm
	all_home
done
