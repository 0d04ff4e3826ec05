/* The fixture machine of the engine's unit tests: seed machine 1's shape (a four-function GPU sharing
 * IOMMU group 28 with its root port, two identical NVMe drives) plus an Intel boot GPU with fbcon. */
#pragma once

#include "sysfs-fixture.h"

#define GPU "0000:0a:00.0"
#define GPU_AUDIO "0000:0a:00.1"
#define GPU_USB "0000:0a:00.2"
#define GPU_UCSI "0000:0a:00.3"
#define ROOT_PORT "0000:00:01.0"
#define NVME_A "0000:04:00.0"
#define NVME_B "0000:05:00.0"
#define IGPU "0000:00:02.0"

static inline void fx_machine(struct fixture *f)
{
	fx_init(f);
	fx_device(f, ROOT_PORT, 0x8086, 0x1901, 0x060400, "pcieport", 28);
	fx_device(f, GPU, 0x10de, 0x1e04, 0x030000, "nvidia", 28);
	fx_device(f, GPU_AUDIO, 0x10de, 0x10f7, 0x040300, "snd_hda_intel", 28);
	fx_device(f, GPU_USB, 0x10de, 0x1ad6, 0x0c0330, "xhci_hcd", 28);
	fx_device(f, GPU_UCSI, 0x10de, 0x1ad7, 0x0c8000, "nvidia-gpu", 28);
	fx_write(f, "sys", "bus/pci/devices/" GPU "/boot_vga", "0");
	fx_link(f, "bus/pci/drivers/nvidia/module", "../../../../module/nvidia");
	fx_link(f, "bus/pci/drivers/snd_hda_intel/module", "../../../../module/snd_hda_intel");

	fx_device(f, NVME_A, 0x144d, 0xa808, 0x010802, "nvme", 14);
	fx_write(f, "sys", "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/dev", "259:0");
	fx_dir(f, "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/holders");
	fx_write(f, "sys", "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/nvme0n1p1/dev", "259:1");
	fx_write(f, "sys", "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/nvme0n1p1/partition", "1");
	fx_dir(f, "bus/pci/devices/" NVME_A "/nvme/nvme0/nvme0n1/nvme0n1p1/holders");
	fx_device(f, NVME_B, 0x144d, 0xa808, 0x010802, "nvme", 15);

	fx_device(f, IGPU, 0x8086, 0x3e92, 0x030000, "i915", 0);
	fx_write(f, "sys", "bus/pci/devices/" IGPU "/boot_vga", "1");
	fx_write(f, "sys", "class/vtconsole/vtcon0/name", "(S) dummy device");
	fx_write(f, "sys", "class/vtconsole/vtcon0/bind", "0");
	fx_write(f, "sys", "class/vtconsole/vtcon1/name", "(M) frame buffer device");
	fx_write(f, "sys", "class/vtconsole/vtcon1/bind", "1");
}
