/* log.c: relayd-style logging. In the foreground everything goes to stderr
 * with a level prefix; as a service it goes to syslog, which the journal
 * collects. Thread-safe: each message is formatted into one buffer and
 * written with one call. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static int log_foreground = 1;
static int log_debug_on = 0;

void
log_init(int foreground, int debug)
{
	log_foreground = foreground;
	log_debug_on = debug;
	if (!foreground)
		openlog("scopegate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_debug(int debug)
{
	log_debug_on = debug;
}

static void vlog(int, const char *, va_list, int) __attribute__((format(printf, 2, 0)));

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[2048];
	int saved = errno;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved));
	if (log_foreground) {
		const char *lvl = pri == LOG_CRIT ? "fatal" : pri == LOG_ERR ? "error" :
		    pri == LOG_WARNING ? "warning" : pri == LOG_DEBUG ? "debug" : "info";
		char line[2200];
		int m = snprintf(line, sizeof(line), "scopegate: %s: %s\n", lvl, msg);
		if (m > 0)
			(void)!write(STDERR_FILENO, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1);
	} else if (pri == LOG_CRIT)
		/* The journal shows no level word: say it in the text. */
		syslog(pri, "fatal: %s", msg);
	else
		syslog(pri, "%s", msg);
	errno = saved;
}

#define LOG_FN(name, pri, err)                      \
	void name(const char *fmt, ...)             \
	{                                           \
		va_list ap;                         \
		va_start(ap, fmt);                  \
		vlog(pri, fmt, ap, err);            \
		va_end(ap);                         \
	}

LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_info, LOG_INFO, 0)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

/* Log a fatal error, then the last line (exiting and why), and exit 1. */
static void vfatal(const char *, va_list, int) __attribute__((format(printf, 1, 0), noreturn));
static void
vfatal(const char *fmt, va_list ap, int with_errno)
{
	char why[1024];
	va_list ap2;

	va_copy(ap2, ap);
	if (vsnprintf(why, sizeof(why), fmt, ap2) < 0)
		why[0] = '\0';
	va_end(ap2);
	vlog(LOG_CRIT, fmt, ap, with_errno);
	log_exit(1, why);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(fmt, ap, 0);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
}

void
log_exit(int status, const char *why)
{
	if (status == 0)
		log_info("exiting with status 0: %s", why);
	else
		log_warnx("exiting with status %d: %s", status, why);
}

static void
libevent_log_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_bridge_libevent(void)
{
	event_set_log_callback(libevent_log_cb);
}
