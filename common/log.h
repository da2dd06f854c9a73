/*
 * Logging, in the manner of OpenBSD's daemons. Foreground mode logs to
 * stderr; otherwise to syslog (the journal picks it up under systemd).
 */
#ifndef FF_LOG_H
#define FF_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

/* Start logging as ident; to stderr if foreground, else to syslog. */
void log_init(const char *ident, int foreground, int level);
/* Change the level at run time. */
void log_setlevel(int level);
int log_getlevel(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
