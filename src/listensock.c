/* listensock.c: see listensock.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "cfg.h"
#include "listensock.h"
#include "xmalloc.h"

#define LISTENSOCK_BACKLOG	1024

const char *
listensock_spec(const char *address, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(address, ':') ? "[%s]:%u" : "%s:%u", address, port);
	return buf;
}

/* One listening socket for spec; the descriptor, or -1 with the reason
 * in why. */
static int
open_one(const char *spec, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), fd = -1, one = 1, zero = 0, rc = -1;

	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(why, whylen, "cannot parse listener address %s", spec);
		goto out;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "cannot listen on %s: socket: %s", spec, strerror(errno));
		goto out;
	}
	/* SO_REUSEADDR only lets a restart bind while old connections are in
	 * TIME_WAIT; on Linux it never lets two sockets listen on one port.
	 * No SO_REUSEPORT: that is what would. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		snprintf(why, whylen, "cannot listen on %s: SO_REUSEADDR: %s", spec,
		    strerror(errno));
		goto out;
	}
	/* "::" serves IPv4 too (IPv4-mapped), whatever net.ipv6.bindv6only
	 * says: left IPv6-only by that sysctl, another process could bind
	 * 0.0.0.0 on this port and serve every IPv4 client. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) {
		snprintf(why, whylen, "cannot listen on %s: IPV6_V6ONLY: %s", spec,
		    strerror(errno));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0) {
		snprintf(why, whylen, errno == EADDRINUSE ? "cannot listen on %s: address "
		    "in use (another process, perhaps another scopegate, listens on it)" :
		    "cannot listen on %s: %s", spec, strerror(errno));
		goto out;
	}
	if (listen(fd, LISTENSOCK_BACKLOG) != 0) {
		snprintf(why, whylen, errno == EADDRINUSE ? "cannot listen on %s: address "
		    "in use" : "cannot listen on %s: %s", spec, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int
listensock_open_all(const struct cfg *cf, int **fds, char *why, size_t whylen)
{
	int *v = xcalloc(cf->nlisteners ? cf->nlisteners : 1, sizeof(*v));
	char spec[80];

	for (size_t i = 0; i < cf->nlisteners; i++) {
		const struct cfg_listener *l = &cf->listeners[i];

		v[i] = open_one(listensock_spec(l->address, l->port, spec, sizeof(spec)), why,
		    whylen);
		if (v[i] < 0) {
			listensock_close_all(v, i);
			*fds = NULL;
			return -1;
		}
	}
	*fds = v;
	return 0;
}

void
listensock_stop_all(const int *fds, size_t n)
{
	/* shutdown() takes a listening TCP socket out of the listening state
	 * (connections waiting in its queue are reset, new ones refused)
	 * without closing the descriptor. */
	for (size_t i = 0; fds != NULL && i < n; i++)
		if (fds[i] >= 0)
			(void)shutdown(fds[i], SHUT_RDWR);
}

void
listensock_close_all(int *fds, size_t n)
{
	for (size_t i = 0; fds != NULL && i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}
