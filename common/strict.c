/*
 * Strict modes for what a daemon trusts on disk (its state directory,
 * key, pinned keys), as sshd's StrictModes: refuse what a user other
 * than the one running the daemon could change, and say which chown or
 * chmod fixes it; see strict.h.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "strict.h"

/* "name (uid N)" of uid into buf. */
static const char *
user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pb[1024];

	if (getpwuid_r(uid, &pw, pb, sizeof(pb), &res) == 0 && res != NULL)
		snprintf(buf, len, "%s (uid %u)", res->pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/* Just the name of uid (for a chown command line), else the number. */
static const char *
user_arg(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pb[1024];

	if (getpwuid_r(uid, &pw, pb, sizeof(pb), &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", res->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

int
strict_check(const char *path, const struct stat *st, char *err,
    size_t errlen)
{
	char owner[96], me[96], arg[64];
	uid_t uid = geteuid();

	if (st->st_uid != uid) {
		snprintf(err, errlen, "%s is owned by %s, not by %s who runs "
		    "this daemon: another user could change what it trusts "
		    "(chown %s %s)", path,
		    user_name(st->st_uid, owner, sizeof(owner)),
		    user_name(uid, me, sizeof(me)),
		    user_arg(uid, arg, sizeof(arg)), path);
		return FF_EAUTH;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o): other "
		    "users could change what this daemon trusts (chmod go-w "
		    "%s)", path, (st->st_mode & S_IWOTH) ? "everyone" :
		    "its group", (unsigned)(st->st_mode & 07777), path);
		return FF_EAUTH;
	}
	return 0;
}

int
strict_check_parents(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX], owner[96];
	struct stat st;
	uid_t uid = geteuid();
	char *slash;
	int n;

	if (dir[0] == '/')
		n = snprintf(path, sizeof(path), "%s", dir);
	else {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return 0;	/* nothing to check against */
		n = snprintf(path, sizeof(path), "%s/%s", cwd, dir);
	}
	if (n < 0 || (size_t)n >= sizeof(path)) {
		snprintf(err, errlen, "state directory %s: path too long",
		    dir);
		return FF_EINVAL;
	}
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	while ((slash = strrchr(path, '/')) != NULL) {
		if (slash == path)
			slash[1] = '\0';	/* "/" itself */
		else
			*slash = '\0';
		if (stat(path, &st) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return FF_EIO;
		}
		if (st.st_uid != 0 && st.st_uid != uid) {
			snprintf(err, errlen, "%s, above state directory %s, is "
			    "owned by %s: that user could put another "
			    "directory in its place (chown root %s, or move "
			    "the state directory)", path, dir,
			    user_name(st.st_uid, owner, sizeof(owner)), path);
			return FF_EAUTH;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (st.st_mode & S_ISVTX) == 0) {
			snprintf(err, errlen, "%s, above state directory %s, is "
			    "writable by %s (mode %04o) and not sticky: other "
			    "users could put another directory in its place "
			    "(chmod go-w %s, or move the state directory)",
			    path, dir, (st.st_mode & S_IWOTH) ? "everyone" :
			    "its group", (unsigned)(st.st_mode & 07777), path);
			return FF_EAUTH;
		}
		if (slash == path)
			break;
	}
	return 0;
}
