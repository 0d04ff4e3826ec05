/* The journal: each VM's plan and how far it got, in RUN_DIR/state/<vm>.state, replaced atomically (temp
 * file, fsync, rename, fsync of the directory: write_file_atomic()) so a crash leaves either the old or the
 * new state. */
#pragma once

#include "plan.h"

/* Create RUN_DIR/state if needed. */
int journal_init(const char *run_dir);
/* Write P as VM's journal, durably. */
int journal_save(const char *run_dir, const struct plan *p);
/* Read VM's journal. -ENOENT when there is none; -EINVAL when it does not parse. */
int journal_load(const char *run_dir, const char *vm, struct plan **ret);
int journal_remove(const char *run_dir, const char *vm);
/* Names of the VMs that have a journal, sorted (strv_free). */
int journal_list(const char *run_dir, char ***ret);

/* An exclusive lock over every journal (flock on RUN_DIR/state/.lock), held while a VM's claims are checked
 * and recorded so two VMs cannot take the same device, across threads and processes. Waits at most
 * TIMEOUT_MS: returns the fd, -ETIMEDOUT, or -errno. */
int journal_lock(const char *run_dir, unsigned timeout_ms);
