/* fuzz_realip.c: trusted-proxy prefixes and X-Forwarded-For values on
 * arbitrary bytes. The input is split at its first newline: a prefix to
 * parse, then an X-Forwarded-For value. A parsed prefix contains its own
 * address; the client found is always a valid address, the peer when the
 * peer is not trusted. */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "realip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *nl, out[REALIP_ADDR_MAX + 1];
	unsigned char bytes[16];
	struct realip_net nets[2];
	const char *why = NULL, *xff;
	char text[REALIP_ADDR_MAX + 1];
	size_t n = 1;
	int rc;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if ((nl = strchr(s, '\n')) != NULL)
		*nl = '\0';
	xff = nl != NULL ? nl + 1 : NULL;
	/* Always trust loopback; add the fuzzed prefix when it parses. */
	if (realip_parse_net("127.0.0.0/8", &nets[0], &why) != 0)
		abort();
	if (realip_parse_net(s, &nets[1], &why) == 0) {
		n = 2;
		if (inet_ntop(nets[1].family, nets[1].addr, text, sizeof(text)) == NULL ||
		    !realip_trusted(&nets[1], 1, text))
			abort();	/* a prefix must contain its own address */
	} else if (why == NULL)
		abort();		/* refused without a reason */
	rc = realip_client(nets, n, "127.0.0.1", xff, out, sizeof(out));
	if (inet_pton(AF_INET, out, bytes) != 1 && inet_pton(AF_INET6, out, bytes) != 1)
		abort();
	if (rc == 0 && strcmp(out, "127.0.0.1") != 0)
		abort();
	if (!realip_trusted(nets, n, "203.0.113.1") &&
	    (realip_client(nets, n, "203.0.113.1", xff, out, sizeof(out)) != 0 ||
	    strcmp(out, "203.0.113.1") != 0))
		abort();		/* an untrusted peer is its own client */
	free(s);
	return 0;
}
