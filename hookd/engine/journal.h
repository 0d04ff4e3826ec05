/* The journal: each VM's plan and how far it got, in RUN_DIR/state/<vm>.state, replaced atomically (temp
 * file, fsync, rename, fsync of the directory: write_file_atomic()) so a crash leaves either the old or the
 * new state. The reader and the lock are in journal.c (the engine's read side, which hookctl links); the
 * writer in journal-write.c (the write side). Every function returns 0 (or what it says) or -errno. */
#pragma once

#include "plan.h"

/* Create RUN_DIR (0755) and RUN_DIR/state (0700) if needed. */
int journal_init(const char *run_dir);
/* A journal is at most this large, and nests no deeper than a plan does. */
#define JOURNAL_MAX_SIZE (1024u * 1024u)
#define JOURNAL_JSON_DEPTH 8

/* Read VM's journal (*ret: caller frees with plan_free). -ENOENT when there is none; -EINVAL when it does not
 * parse, does not validate (see journal_parse) or names another VM. */
int journal_load(const char *run_dir, const char *vm, struct plan **ret);
/* A journal's text (LEN bytes, not NUL-terminated) to a plan, validated like any input: every address
 * canonical, every name one that can stand in a sysfs path or a module name, every value one line, no
 * more than a plan holds. VM, when given, must be the plan's VM. 0, -EINVAL or -ENOMEM. */
int journal_parse(const char *text, size_t len, const char *vm, struct plan **ret);
/* Names of the VMs that have a journal, sorted bytewise (caller frees with strv_free); empty when RUN_DIR/state
 * does not exist. */
int journal_list(const char *run_dir, char ***ret);
/* An exclusive lock over every journal (flock on RUN_DIR/state/.lock), held while a VM's claims are checked
 * and recorded so two VMs cannot take the same device, across threads and processes. Waits at most
 * TIMEOUT_MS: returns the fd (the caller closes it to unlock), -ETIMEDOUT, or -errno. */
int journal_lock(const char *run_dir, unsigned timeout_ms);

/* The writer. */

/* Write P as its VM's journal, durably. */
int journal_save(const char *run_dir, const struct plan *p);
/* Remove VM's journal (0 when there is none) and make that durable. */
int journal_remove(const char *run_dir, const char *vm);
