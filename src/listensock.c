/* listensock.c: see listensock.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/util.h>

#include "cfg.h"
#include "listensock.h"
#include "xmalloc.h"

#define LISTENSOCK_BACKLOG	1024

/* sd_listen_fds(3): the first socket passed is descriptor 3. */
#define LISTENSOCK_FDS_START	3
/* More than any configuration has listeners; a bigger LISTEN_FDS is
 * not ours to believe. */
#define LISTENSOCK_FDS_MAX	1024

struct listensock_env {
	size_t n;
	char **names;		/* LISTEN_FDNAMES, one per descriptor */
	int *claimed;		/* handed to a listener by listensock_open_all */
	struct sockaddr_storage *addrs;	/* what each one is bound to */
};

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

/* A whole decimal number in [min, max] or -1. */
static long
env_number(const char *s, long min, long max)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' || v < min || v > max ? -1 : v;
}

static void
addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else {
		snprintf(buf, len, "(address family %d)", (int)ss->ss_family);
		return;
	}
	listensock_spec(a, port, buf, len);
}

/* Descriptor fd as a service manager passed it: a listening TCP socket
 * (IPv4, or IPv6 serving IPv4 too, as open_one makes them), its bound
 * address in *ss; made non-blocking and close-on-exec. 0, or -1 with
 * the reason in why. */
static int
adopt_check(int fd, const char *name, struct sockaddr_storage *ss, char *why, size_t whylen)
{
	struct stat st;
	socklen_t len = sizeof(int), sslen = sizeof(*ss);
	int type = 0, acc = 0, v6only = 0, rc = -1, fl;

	memset(ss, 0, sizeof(*ss));
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
	    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len)) != 0 ||
	    !acc || getsockname(fd, (struct sockaddr *)ss, &sslen) != 0 ||
	    (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
		snprintf(why, whylen, "socket activation: descriptor %d (\"%s\") is not a "
		    "listening TCP socket (ListenStream= with an IP address)", fd, name);
		goto out;
	}
	/* The guarantee open_one gives: "::" left IPv6-only would let
	 * another process serve IPv4 clients on this port. */
	len = sizeof(int);
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ss)->sin6_addr) &&
	    (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) != 0 || v6only)) {
		snprintf(why, whylen, "socket activation: descriptor %d (\"%s\") listens on "
		    "IPv6 only; set BindIPv6Only=both in the socket unit", fd, name);
		goto out;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(why, whylen, "socket activation: descriptor %d: fcntl: %s", fd,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

int
listensock_env_take(struct listensock_env **out, char *why, size_t whylen)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	struct listensock_env *env = NULL;
	char *copy = NULL;
	long n = 0;
	int rc = -1;

	*out = NULL;
	/* Not for this process (a parent's, passed on by mistake): ignored
	 * like sd_listen_fds(3) does, descriptors left alone. */
	if (pid == NULL || env_number(pid, 1, INT_MAX) != (long)getpid()) {
		rc = 0;
		goto out;
	}
	if ((n = env_number(nfds, 0, LISTENSOCK_FDS_MAX)) < 0) {
		snprintf(why, whylen, "socket activation: LISTEN_FDS=%s is not a number of "
		    "descriptors (0 to %d)", nfds ? nfds : "(unset)", LISTENSOCK_FDS_MAX);
		goto out;
	}
	if (n == 0) {
		rc = 0;
		goto out;
	}
	env = xcalloc(1, sizeof(*env));
	env->n = (size_t)n;
	env->names = xcalloc(env->n, sizeof(*env->names));
	env->claimed = xcalloc(env->n, sizeof(*env->claimed));
	env->addrs = xcalloc(env->n, sizeof(*env->addrs));
	/* Without LISTEN_FDNAMES every socket is "unknown", as systemd's
	 * own sd_listen_fds_with_names(3) calls them. */
	copy = xstrdup(names != NULL ? names : "");
	{
		char *p = copy, *colon;
		size_t i = 0;
		for (; names != NULL && p != NULL; i++) {
			if ((colon = strchr(p, ':')) != NULL)
				*colon = '\0';
			if (i < env->n)
				env->names[i] = xstrdup(p);
			p = colon != NULL ? colon + 1 : NULL;
		}
		if (names != NULL && i != env->n) {
			snprintf(why, whylen, "socket activation: LISTEN_FDNAMES names %zu "
			    "descriptor(s), LISTEN_FDS=%ld", i, n);
			goto out;
		}
		for (i = 0; i < env->n; i++)
			if (env->names[i] == NULL)
				env->names[i] = xstrdup("unknown");
	}
	for (size_t i = 0; i < env->n; i++)
		if (adopt_check(LISTENSOCK_FDS_START + (int)i, env->names[i], &env->addrs[i], why,
		    whylen) != 0)
			goto out;
	*out = env;
	env = NULL;
	rc = 0;
out:
	/* Never passed on to anything this process starts. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	free(copy);
	listensock_env_free(env);
	return rc;
}

void
listensock_env_free(struct listensock_env *env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; i < env->n; i++) {
		if (!env->claimed[i])
			close(LISTENSOCK_FDS_START + (int)i);
		free(env->names[i]);
	}
	free(env->names);
	free(env->claimed);
	free(env->addrs);
	free(env);
}

int
listensock_env_count(const struct listensock_env *env)
{
	return env != NULL ? (int)env->n : 0;
}

/* Whether ss is bound to exactly what l configures. */
static int
addr_matches(const struct sockaddr_storage *ss, const struct cfg_listener *l)
{
	struct sockaddr_storage want;
	int wlen = sizeof(want);
	char spec[80];

	if (evutil_parse_sockaddr_port(listensock_spec(l->address, l->port, spec,
	    sizeof(spec)), (struct sockaddr *)&want, &wlen) != 0 || want.ss_family != ss->ss_family)
		return 0;
	if (ss->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)ss)->sin_addr,
		    &((struct sockaddr_in *)&want)->sin_addr, sizeof(struct in_addr)) == 0 &&
		    ((const struct sockaddr_in *)ss)->sin_port ==
		    ((struct sockaddr_in *)&want)->sin_port;
	return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr,
	    &((struct sockaddr_in6 *)&want)->sin6_addr, sizeof(struct in6_addr)) == 0 &&
	    ((const struct sockaddr_in6 *)ss)->sin6_port ==
	    ((struct sockaddr_in6 *)&want)->sin6_port;
}

/* The descriptor of env for listener i of cf, or -1 with the reason in
 * why. A named listener takes the socket of its name; an unnamed one the
 * socket bound to its address. Either way the bound address must be the
 * configured one: the configuration is what says which port speaks TLS,
 * what -t checks and what the logs name. */
static int
adopt_one(struct listensock_env *env, const struct cfg *cf, size_t i, char *why,
    size_t whylen)
{
	const struct cfg_listener *l = &cf->listeners[i];
	char spec[80], bound[80] = "";
	int byname = 0;

	listensock_spec(l->address, l->port, spec, sizeof(spec));
	for (size_t k = 0; k < env->n; k++) {
		if (env->claimed[k] || (l->name != NULL && strcmp(env->names[k], l->name) != 0))
			continue;
		if (l->name != NULL) {
			byname = 1;
			addr_str(&env->addrs[k], bound, sizeof(bound));
		}
		if (addr_matches(&env->addrs[k], l)) {
			env->claimed[k] = 1;
			return LISTENSOCK_FDS_START + (int)k;
		}
	}
	if (l->name != NULL && byname)
		snprintf(why, whylen, "socket activation: listener /listeners/%zu (\"%s\") "
		    "is configured for %s but the socket named \"%s\" is bound to %s", i,
		    l->name, spec, l->name, bound);
	else if (l->name != NULL)
		snprintf(why, whylen, "socket activation: listener /listeners/%zu (\"%s\", %s): "
		    "no socket of that name was passed (FileDescriptorName=)", i, l->name, spec);
	else
		snprintf(why, whylen, "socket activation: listener /listeners/%zu (%s): no "
		    "socket bound to that address was passed; with socket activation every "
		    "listener's socket comes from the service manager", i, spec);
	return -1;
}

/* Listeners from env (named ones first, so that an unnamed listener does
 * not take a socket meant for a named one): every listener gets one,
 * every socket goes to a listener. */
static int
adopt_all(struct listensock_env *env, const struct cfg *cf, int *v, char *why,
    size_t whylen)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < cf->nlisteners; i++)
			if ((cf->listeners[i].name != NULL) == (pass == 0) &&
			    (v[i] = adopt_one(env, cf, i, why, whylen)) < 0)
				return -1;
	for (size_t k = 0; k < env->n; k++)
		if (!env->claimed[k]) {
			char bound[80];
			addr_str(&env->addrs[k], bound, sizeof(bound));
			snprintf(why, whylen, "socket activation: the socket \"%s\" (descriptor "
			    "%d, %s) matches no listener (no listener of that name or, unnamed, "
			    "that address)", env->names[k], LISTENSOCK_FDS_START + (int)k, bound);
			return -1;
		}
	return 0;
}

int
listensock_open_all(const struct cfg *cf, struct listensock_env *env, int **fds, char *why,
    size_t whylen)
{
	int *v = xcalloc(cf->nlisteners ? cf->nlisteners : 1, sizeof(*v));
	char spec[80];

	if (env != NULL) {
		for (size_t i = 0; i < cf->nlisteners; i++)
			v[i] = -1;
		if (adopt_all(env, cf, v, why, whylen) != 0) {
			/* All of them stay env's to close. */
			free(v);
			for (size_t k = 0; k < env->n; k++)
				env->claimed[k] = 0;
			*fds = NULL;
			return -1;
		}
		*fds = v;
		return 0;
	}

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
listensock_stop_all(const int *fds, size_t n, int inherited)
{
	/* Sockets from a service manager are its too: they stay listening,
	 * and connections wait in their queue for the next start. */
	if (inherited)
		return;
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
