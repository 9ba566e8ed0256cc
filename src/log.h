/* log.h: diagnostics to stderr (foreground) or syslog/journal (service). */
#ifndef SCOPEGATE_LOG_H
#define SCOPEGATE_LOG_H

#include <stdarg.h>

#define LOG_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set up logging: to stderr when foreground is non-zero, else syslog. */
void log_init(int foreground, int debug);
void log_set_debug(int debug);

/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2);
/* fatal/fatalx log "fatal: ...", then the exit line, and exit 1. */
void fatal(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2) __attribute__((noreturn));

/* A fatal error ("fatal: ..."), when the caller still cleans up before
 * it exits; log_exit then says so. */
void log_fatal(const char *fmt, ...) LOG_ATTR_PRINTF(1, 2);
/* The daemon's last line: "exiting with status N: why". */
void log_exit(int status, const char *why);

/* Route libevent's own diagnostics through this module. */
void log_bridge_libevent(void);

#endif
