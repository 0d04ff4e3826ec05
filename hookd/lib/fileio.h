/* Whole files in, whole files out: reading a file or a pipe to its end under a size limit, and replacing a
 * file atomically. Shared by the daemon (journal, configuration), the hook (stdin, script output) and hookctl
 * (VM files), so each of these is done one way. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Read FD (a file, a pipe, a memfd) until EOF into a NUL-terminated heap buffer (caller frees); *ret_len, when
 * given, excludes the NUL. -EFBIG when there are more than MAX bytes, -errno of read(), -ENOMEM. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* read_full_fd() of PATH, whatever kind of file it is (a FIFO such as bash's <(...) too). -errno of open(). */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* The text of a regular file: -EFBIG when larger than MAX bytes, -EBADMSG when it contains a NUL byte (it is
 * not text), -EISDIR / -EINVAL for a directory or another non-regular file, else as read_full_fd(). */
int read_text_fd(int fd, size_t max, char **ret);
/* read_text_fd() of PATH, opened O_NONBLOCK so that a FIFO is refused rather than waited on. */
int read_text_file(const char *path, size_t max, char **ret);

/* Write all LEN bytes, retrying short writes and EINTR. 0 or -errno. */
int write_full(int fd, const void *buf, size_t len);

/* Make DIR's entries (a rename, an unlink) durable: fsync of the directory. 0 or -errno. */
int fsync_directory(const char *dir);

/* Replace DIR/NAME with TEXT atomically and durably: a hidden temporary file in DIR (".NAME.XXXXXX"), written,
 * given MODE, fsync'd, renamed over NAME, then DIR fsync'd. A crash leaves the old or the new file, never a
 * mix; on error the temporary file is gone and NAME unchanged. 0 or -errno. */
int write_file_atomic(const char *dir, const char *name, const char *text, mode_t mode);
/* The same, but only when DIR/NAME does not exist yet: -EEXIST otherwise, checked atomically (link()). */
int write_file_atomic_new(const char *dir, const char *name, const char *text, mode_t mode);
