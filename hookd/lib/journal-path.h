/* Where the engine's journal keeps each VM's record: RUN_DIR/state/<vm>.state (see hookd/engine/journal.h).
 * Shared with the hook, which stats it: a VM with a record is one hookd still holds devices for, so its
 * release reaches hookd even when its configuration file is gone. */
#pragma once

#define JOURNAL_DIR_NAME "state"
#define JOURNAL_SUFFIX ".state"
