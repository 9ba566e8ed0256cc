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
		const char *lvl = pri == LOG_ERR ? "error" : pri == LOG_WARNING ? "warning" :
		    pri == LOG_DEBUG ? "debug" : "info";
		char line[2200];
		int m = snprintf(line, sizeof(line), "scopegate: %s: %s\n", lvl, msg);
		if (m > 0)
			(void)!write(STDERR_FILENO, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1);
	} else
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

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, 0);
	va_end(ap);
	exit(1);
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
