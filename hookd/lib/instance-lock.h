/* One hookd per run dir: the daemon holds RUN_DIR/DAEMON_LOCK_NAME (flock, exclusive) for its whole life and
 * takes it before it binds its socket. The hook reads it to tell a daemon that is starting (lock held, no
 * socket yet: wait for it) from none at all (fail at once). */
#pragma once

#define DAEMON_LOCK_NAME "hookd.lock"
