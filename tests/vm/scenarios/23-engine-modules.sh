#!/bin/bash
# unload-modules: unloaded holders first whatever the configured order, loaded again in reverse; a module
# held by a module outside the list refuses the prepare and is named; a device node held open by a process
# refuses it naming the process.
# shellcheck source=../engine-lib.bash
. "$HOOKD_SRC/tests/vm/engine-lib.bash"

[[ -d /sys/module/bochs && -d /sys/module/drm_vram_helper && -d /sys/module/snd_hda_intel ]] ||
	fail "bochs, drm_vram_helper and snd_hda_intel must be loaded in the guest"

step "a holder outside the list: refused, named"
vm_config gpu <<INI
[vm]
release-console = yes
unload-modules = drm_vram_helper
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
engine_refused "module drm_vram_helper: it is held by bochs, which is not in unload-modules" prepare gpu
assert_on_host "$GPU_VGA" bochs-drm
[[ -d /sys/module/drm_vram_helper ]] || fail "drm_vram_helper was unloaded"

step "listed in the wrong order: bochs goes first anyway, reload in reverse"
vm_config gpu <<INI
[vm]
release-console = yes
unload-modules = drm_vram_helper snd_hda_intel bochs
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
engine_ok prepare gpu
order=$(grep -o 'unloaded module [a-z_]*' "$ENGINE_OUT" | awk '{print $3}' | tr '\n' ' ')
echo "unload order: $order"
[[ "$order" == "snd_hda_intel bochs drm_vram_helper " ]] || fail "unload order is '$order'"
for m in bochs drm_vram_helper snd_hda_intel; do
	[[ ! -d /sys/module/$m ]] || fail "$m is still loaded"
done
assert_on_vfio "$GPU_VGA"
assert_on_vfio "$GPU_AUDIO"
assert_driver "$HOST_VGA" none # bochs drives the host display too: it goes with the module
assert_status gpu prepared
grep -q '"modules_unloaded"' "$ENGINE_OUT" || fail "status lacks modules_unloaded"

engine_ok release gpu
order=$(grep -o 'loaded module [a-z_]* again' "$ENGINE_OUT" | awk '{print $3}' | tr '\n' ' ')
echo "reload order: $order"
[[ "$order" == "drm_vram_helper bochs snd_hda_intel " ]] || fail "reload order is '$order'"
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_driver "$HOST_VGA" bochs-drm
assert_vtcon_bound yes

step "snd_hda_intel held open by a process: refused naming the process, nothing changed"
vm_config gpu <<INI
[vm]
release-console = yes
unload-modules = snd_hda_intel bochs
[device.gpu]
address = $GPU_VGA
whole-group = yes
INI
wait_for /dev/snd/controlC0 10
sleep 600 3</dev/snd/controlC0 &
holder=$!
# The holder check names the process before the module plan could say the module is in use.
engine_refused "VM gpu: $GPU_AUDIO \(gpu\+group\) is in use by pid $holder \(sleep, user root" prepare gpu
kill "$holder"
wait "$holder" 2>/dev/null || true
[[ -d /sys/module/snd_hda_intel && -d /sys/module/bochs ]] || fail "a module was unloaded"
assert_on_host "$GPU_VGA" bochs-drm
assert_on_host "$GPU_AUDIO" snd_hda_intel
assert_vtcon_bound yes
assert_journal_gone gpu

step "bochs with the GPU's DRM card open: refused naming the process"
cards=(/sys/bus/pci/devices/"$GPU_VGA"/drm/card*)
[[ -e ${cards[0]} ]] || fail "no DRM card under $GPU_VGA"
card=/dev/dri/${cards[0]##*/}
wait_for "$card" 10
sleep 600 3<"$card" &
holder=$!
engine_refused "VM gpu: $GPU_VGA \(gpu\) is in use by pid $holder \(sleep, user root" prepare gpu
kill "$holder"
wait "$holder" 2>/dev/null || true
assert_on_host "$GPU_VGA" bochs-drm
assert_journal_gone gpu

step "vfio-pci stays loaded after release (another VM may use it)"
[[ -d /sys/module/vfio_pci ]] || fail "vfio_pci is not loaded"
modprobe -r vfio-pci || true
