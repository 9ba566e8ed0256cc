/* realip.c: see realip.h. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "realip.h"

/* addr text -> family and bytes; -1 when it is not a bare address. */
static int
parse_addr(const char *s, size_t len, int *family, unsigned char *bytes)
{
	char buf[REALIP_ADDR_MAX + 1];

	if (len == 0 || len > REALIP_ADDR_MAX)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, bytes) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, bytes) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static int
in_net(const struct realip_net *net, int family, const unsigned char *bytes)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family || memcmp(net->addr, bytes, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((net->addr[full] ^ bytes[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

static int
trusted_bytes(const struct realip_net *nets, size_t n, int family, const unsigned char *bytes)
{
	for (size_t i = 0; i < n; i++)
		if (in_net(&nets[i], family, bytes))
			return 1;
	return 0;
}

int
realip_parse_net(const char *s, struct realip_net *out, const char **why)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, bits = 0;

	memset(out, 0, sizeof(*out));
	if (parse_addr(s, alen, &out->family, out->addr) != 0) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	max = out->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		out->prefix = max;
		return 0;
	}
	/* Decimal, no sign, no leading zero, no trailing bytes. */
	if (slash[1] == '\0' || (slash[1] == '0' && slash[2] != '\0')) {
		*why = "the prefix length is not a plain decimal number";
		return -1;
	}
	for (const char *p = slash + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || bits > max) {
			*why = "the prefix length is not a plain decimal number";
			return -1;
		}
		bits = bits * 10 + (unsigned)(*p - '0');
	}
	if (bits > max) {
		*why = "the prefix length is longer than the address";
		return -1;
	}
	out->prefix = bits;
	/* 10.0.0.1/8 is a typo for 10.0.0.0/8 or 10.0.0.1/32: refuse it. */
	for (unsigned b = bits; b < max; b++)
		if (out->addr[b / 8] & (0x80 >> (b % 8))) {
			*why = "bits are set past the prefix length";
			return -1;
		}
	return 0;
}

int
realip_trusted(const struct realip_net *nets, size_t n, const char *addr)
{
	unsigned char bytes[16];
	int family;

	if (n == 0 || parse_addr(addr, strlen(addr), &family, bytes) != 0)
		return 0;
	return trusted_bytes(nets, n, family, bytes);
}

int
realip_client(const struct realip_net *nets, size_t n, const char *peer, const char *xff,
    char *out, size_t outlen)
{
	char last[REALIP_ADDR_MAX + 1] = "";
	const char *end;

	snprintf(out, outlen, "%s", peer);
	if (xff == NULL || !realip_trusted(nets, n, peer))
		return 0;
	/* From the right: each element was appended by the hop after it. */
	end = xff + strlen(xff);
	for (;;) {
		const char *start = end, *e = end;
		unsigned char bytes[16];
		int family;

		while (start > xff && start[-1] != ',')
			start--;
		/* The element is [start, end): without its optional spaces. */
		while (start < e && (*start == ' ' || *start == '\t'))
			start++;
		while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (parse_addr(start, (size_t)(e - start), &family, bytes) != 0)
			break;
		if (!trusted_bytes(nets, n, family, bytes)) {
			inet_ntop(family, bytes, out, (socklen_t)outlen);
			return 1;
		}
		inet_ntop(family, bytes, last, sizeof(last));
		while (start > xff && start[-1] != ',')
			start--;
		if (start == xff)
			break;
		end = start - 1;	/* the comma before this element */
	}
	if (last[0] != '\0') {
		snprintf(out, outlen, "%s", last);
		return 1;
	}
	return 0;
}
