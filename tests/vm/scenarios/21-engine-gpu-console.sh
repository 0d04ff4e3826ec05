#!/bin/bash
# The boot GPU (VGA + HDMI-style audio, one IOMMU group) moves with release-console = yes: the framebuffer
# console is unbound before and bound again after; without release-console the move is refused.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

group=$(group_of "$GPU_VGA")
assert_group_members "$GPU_VGA" "$GPU_AUDIO"
assert_vtcon_bound yes

step "boot GPU without release-console: refused, nothing changed"
vm_config gpu <<INI
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
engine_refused "$GPU_VGA \(gpu\): it is the boot GPU and the framebuffer console \(vtcon[0-9]+\) is bound" prepare gpu
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_vtcon_bound yes

step "the dry run shows the plan: both functions, and the same refusal"
engine check gpu || true
grep -q "\"address\": *\"$GPU_AUDIO\"" "$ENGINE_OUT" || fail "the plan lacks the audio function"
grep -q "\"ok\": *false" "$ENGINE_OUT" || fail "the dry run does not say it would be refused"

step "with release-console: both functions to vfio-pci, console unbound"
vm_config gpu <<INI
[vm]
release-console = yes
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
engine check gpu
grep -q "\"ok\": *true" "$ENGINE_OUT" || fail "the dry run says it would be refused"
engine_ok prepare gpu
assert_on_vfio "$GPU_VGA"
assert_on_vfio "$GPU_AUDIO"
assert_vtcon_bound no
assert_status gpu prepared

step "release: bochs-drm and snd_hda_intel back, console bound again"
engine_ok release gpu
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_vfio_dev "$group" absent
assert_vtcon_bound yes
assert_journal_gone gpu

step "module graph (for reference)"
lsmod | grep -E '^(bochs|drm|snd_hda|snd |vfio|e1000)' || true
for m in bochs drm_vram_helper drm_ttm_helper drm_kms_helper snd_hda_intel snd_hda_codec; do
	[[ -d /sys/module/$m ]] && echo "$m refcnt=$(cat /sys/module/$m/refcnt 2>/dev/null) holders=$(ls /sys/module/$m/holders 2>/dev/null | tr '\n' ' ')"
done
ls /sys/bus/platform/drivers/ | grep -i frame || true
