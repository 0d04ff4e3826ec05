/* A write the kernel can stop part-way, run in a child process so that a deadline can stop it: the kernel
 * does not end a sysfs write when its writer gives up waiting, but it does end some at a fatal signal and
 * keeps what they did. */
#pragma once

/* Write VALUE to ROOT/RELPATH (truncating, as the shell's echo does) in a child process, waiting at most
 * TIMEOUT_MS. A write not done by then is stopped: the child is SIGKILLed and waited for until it has exited,
 * for at most TIMEOUT_MS or 10 s, whichever is longer. Only for writes that stop at a fatal signal and keep
 * their partial outcome, which the caller reads back from the tree: nr_hugepages (hugetlb allocates page by
 * page and stops at a signal; the reclaim and compaction inside each page's allocation stop at a fatal one)
 * and a node's compact. 0; -errno of open or write; -ETIMEDOUT when it was stopped and has exited (what it
 * did is final); -EINPROGRESS when it had not exited within that wait (it is reaped on a thread of its own
 * later; what it did may still change); -errno of fork. */
int sysfs_write_stoppable(const char *root, const char *relpath, const char *value, unsigned timeout_ms);
