/* sdnotify.h: the systemd service notification protocol (sd_notify(3))
 * without libsystemd: one datagram per state change to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).
 * Every function is a no-op returning 0 when NOTIFY_SOCKET is unset, so
 * the daemon calls them unconditionally. */
#ifndef SCOPEGATE_SDNOTIFY_H
#define SCOPEGATE_SDNOTIFY_H

/* Send state ("READY=1", several assignments separated by newlines) as
 * one datagram. Returns 1 when sent, 0 when NOTIFY_SOCKET is unset, -1 on
 * error (errno set; an unusable NOTIFY_SOCKET gives EINVAL). */
int sdnotify(const char *state);

/* "READY=1": start-up (or a reload) is complete. */
int sdnotify_ready(void);

/* "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC in µs>": a reload began;
 * send sdnotify_ready() when it is over, whether it worked or not. */
int sdnotify_reloading(void);

/* "STOPPING=1": shutdown began. */
int sdnotify_stopping(void);

/* "STATUS=<text>": a one-line status shown by systemctl status. Line
 * feeds in the text are replaced by spaces; it is cut at 1000 bytes. */
int sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
