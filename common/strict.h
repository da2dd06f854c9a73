/*
 * Strict modes for what a daemon trusts on disk: its state directory,
 * its key and the keys it pinned. Like sshd's StrictModes, a path that
 * another user could change is refused, with the chown or chmod that
 * fixes it in the message. Used by the daemons' shell (daemon.c) and by
 * whatever loads a trusted file from the state directory.
 */
#ifndef FF_STRICT_H
#define FF_STRICT_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Refuse a file or directory (st: its stat) not owned by the effective
 * user, or writable by group or others. Returns 0, or FF_EAUTH with a
 * message in err naming path and the chown or chmod to run.
 */
int strict_check(const char *path, const struct stat *st, char *err,
    size_t errlen);

/*
 * Refuse a directory (dir, absolute or relative to the working
 * directory) that another user could replace: every directory above it
 * must belong to root or to the effective user, and be writable by no
 * one else unless sticky (like /tmp, where nobody can rename another's
 * entry). Returns 0, or FF_EAUTH, FF_EIO, FF_EINVAL with a message in
 * err.
 */
int strict_check_parents(const char *dir, char *err, size_t errlen);

#endif
