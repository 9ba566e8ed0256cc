/* fuzz_admin.c: the admin listener's request checks and the address
 * grouping of connection limits on arbitrary bytes. The input is split at
 * newlines: an address, a Host value, a Content-Type value, an
 * Authorization value. Oracles written apart from the code: a Host is
 * accepted only in one of the few spellings allowed; a bearer token only
 * when it is the secret; an address group prints as text that parses back
 * to the same group. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "connlimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
next_line(char **p)
{
	char *s = *p, *nl;

	if (s == NULL)
		return NULL;
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else
		*p = NULL;
	return s;
}

static void
check_group(const char *addr)
{
	struct connlimit_key k, k2;
	char text[80];
	char *slash;

	if (connlimit_key_parse(addr, &k) != 0)
		return;
	connlimit_key_str(&k, text, sizeof(text));
	if ((slash = strchr(text, '/')) != NULL) {
		if (strcmp(slash, "/64") != 0)
			abort();
		*slash = '\0';
	}
	if (connlimit_key_parse(text, &k2) != 0 || memcmp(&k, &k2, sizeof(k)) != 0)
		abort();	/* the group's text is the group */
}

static void
check_admin(const char *host, const char *ct, const char *auth)
{
	static const char secret[] = "s3cret-0123456789abcdef";
	struct admin_rules r4 = {"127.0.0.1", 9901, secret};
	struct admin_rules r6 = {"::1", 9901, NULL};
	struct admin_request rq = {
		.is_mutating = ct != NULL && ct[0] == 'P',
		.host = host,
		.nhost = host != NULL,
		.norigin = 0,
		.content_type = ct,
		.authorization = auth,
		.nauthorization = auth != NULL,
	};
	const char *type, *message;
	int st;

	st = admin_check(&r4, &rq, &type, &message);
	if (st != 0 && st != 421 && st != 401 && st != 415)
		abort();
	if (st != 421 && !(strcmp(host, "127.0.0.1:9901") == 0 ||
	    strcasecmp(host, "localhost:9901") == 0))
		abort();	/* a Host not in the allowed spellings got past */
	if (st != 421 && st != 401) {
		const char *t = auth + 6;
		if (strncasecmp(auth, "Bearer", 6) != 0 || *t != ' ')
			abort();
		while (*t == ' ')
			t++;
		if (strcmp(t, secret) != 0)
			abort();	/* a wrong token got past */
	}
	if (st == 0 && rq.is_mutating && strncasecmp(ct, "application/json", 16) != 0)
		abort();
	rq.norigin = 1;
	if (admin_check(&r4, &rq, &type, &message) == 0)
		abort();	/* an Origin never gets past */
	rq.norigin = 0;
	st = admin_check(&r6, &rq, &type, &message);
	if (st != 421 && !(strcasecmp(host, "[::1]:9901") == 0 ||
	    strcasecmp(host, "localhost:9901") == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *p = s;
	const char *addr, *host, *ct, *auth;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	addr = next_line(&p);
	host = next_line(&p);
	ct = next_line(&p);
	auth = next_line(&p);
	check_group(addr);
	if (host != NULL)
		check_admin(host, ct, auth);
	free(s);
	return 0;
}
