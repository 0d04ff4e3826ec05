/* What journal.c (the reader, locks) and journal-write.c (the writer) share. */
#pragma once

#include "journal-path.h"

#define STATE_SUFFIX JOURNAL_SUFFIX

/* RUN_DIR/state, and RUN_DIR/state/<vm><suffix>; NULL when out of memory (caller frees). */
char *journal_state_dir(const char *run_dir);
char *journal_state_file(const char *run_dir, const char *vm, const char *suffix);
