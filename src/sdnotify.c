/* sdnotify.c: see sdnotify.h. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

#define SDNOTIFY_STATUS_MAX	1000

/* Fill sun from NOTIFY_SOCKET: an absolute path, or "@name" for the
 * abstract namespace (leading NUL, no terminator counted). Returns the
 * address length, or 0 when the value is unusable. */
static socklen_t
notify_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n < 2 || n >= sizeof(sun->sun_path) || (path[0] != '/' && path[0] != '@'))
		return 0;
	memcpy(sun->sun_path, path, n);
	if (path[0] == '@') {
		sun->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

int
sdnotify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t alen;
	size_t len = strlen(state);
	ssize_t sent;
	int fd, rc = -1, saved;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((alen = notify_addr(path, &sun)) == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	sent = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
	if (sent == (ssize_t)len)
		rc = 1;
	else if (sent >= 0)
		errno = EMSGSIZE;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
sdnotify_ready(void)
{
	return sdnotify("READY=1");
}

int
sdnotify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return -1;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	return sdnotify(msg);
}

int
sdnotify_stopping(void)
{
	return sdnotify("STOPPING=1");
}

int
sdnotify_status(const char *fmt, ...)
{
	char msg[sizeof("STATUS=") + SDNOTIFY_STATUS_MAX];
	va_list ap;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	if (vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap) < 0)
		msg[7] = '\0';
	va_end(ap);
	/* A line feed would start a new assignment systemd would obey. */
	for (char *p = msg + 7; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return sdnotify(msg);
}
