/* realip.h: the client's address behind trusted proxies. When a request
 * comes from a proxy the configuration trusts ("trusted_proxies": exact
 * addresses or CIDR prefixes), its X-Forwarded-For list says who the
 * client was: read from the right, skipping the trusted proxies, the
 * first address that is not one of them is the client (nginx's real_ip
 * with real_ip_recursive). A request from anyone else is its peer: an
 * X-Forwarded-For it sends proves nothing. Pure: text in, text out. */
#ifndef SCOPEGATE_REALIP_H
#define SCOPEGATE_REALIP_H

#include <stddef.h>

/* Longest address text written (an IPv6 address with an IPv4 tail). */
#define REALIP_ADDR_MAX	46

struct realip_net {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network order; 4 bytes used for IPv4 */
	unsigned prefix;		/* bits that must match */
};

/* Parse "ADDR" or "ADDR/PREFIX" (IPv4 or IPv6, no brackets, no zone, the
 * prefix in decimal without leading zeros, no host bits set). Returns 0,
 * or -1 with *why saying what is wrong. */
int realip_parse_net(const char *s, struct realip_net *out, const char **why);

/* Is the address text addr (as inet_pton reads it) inside one of nets? */
int realip_trusted(const struct realip_net *nets, size_t n, const char *addr);

/* The client of a request from peer carrying the X-Forwarded-For value xff
 * (NULL: none). Writes the client's address text into out (at least
 * REALIP_ADDR_MAX + 1 bytes) and returns 1 when it comes from xff (peer
 * trusted, xff well formed up to that element); otherwise copies peer and
 * returns 0. An element that is not a bare IPv4/IPv6 address stops the
 * walk: the last trusted address walked past is then the client. */
int realip_client(const struct realip_net *nets, size_t n, const char *peer, const char *xff,
    char *out, size_t outlen);

#endif
