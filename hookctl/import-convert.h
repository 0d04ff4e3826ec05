/* The converter behind `hookctl import`: the text of a shell hook's kvm.conf (VIRSH_NAME=pci_0000_0a_00_0) or
 * of a modprobe.d file (options vfio-pci ids=1002:731f,...) in, the [device.*] sections of a VM file out.
 * Pure: no files, no output; hookctl/import.c does the reading and writing, tests/fuzz/fuzz-import.c the
 * fuzzing. */
#pragma once

#include <stddef.h>

#include "diag.h"

struct import_result {
	char *body; /* the [device.*] sections, each with a comment naming its line; "" when none */
	unsigned n_devices;
	struct diag notes; /* "LABEL:N: ..." for every line left out, in input order (lost ones too) */
	struct diag lost;  /* "LABEL:N: not imported: ..." for lines that name a device and could not be
			      * converted: the caller must fail */
};

/* Convert len bytes of text (NUL bytes allowed: a line holding one is lost). label names the input in
 * notes and comments; control characters in it are replaced. Assignment lines are read as the shell
 * would: `export`, comments, single and double quotes, several assignments on one line. Every address
 * spelling is accepted: pci_0000_0a_00_0, pci_0000_0a:00.0, 0000:0a:00.0, 0a:00.0. Lines naming VIRSH_*
 * that cannot be converted go to lost. 0, or -ENOMEM (ret is then cleared). */
int import_convert(const char *label, const char *text, size_t len, struct import_result *ret);
void import_result_done(struct import_result *r);

/* Any address spelling above -> "0000:0a:00.0". -EINVAL when s is none of them. */
int import_parse_address(const char *s, char out[static 13]);
