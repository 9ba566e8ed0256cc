/* fuzz_discovery.c: what an identity provider's answers reach: the OpenID
 * discovery parser (issuer check, jwks_uri), the URL rules applied to the
 * jwks_uri it names, the Cache-Control max-age reader, and the JWKS checks
 * of a fetched set (jwks_remote.c). Seeds: real discovery documents
 * (oidc-provider, Keycloak and Auth0 shapes) and hostile variants. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwks_remote.h"
#include "keys.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[512], *uri, *s;
	struct jwks_url u;
	struct keys *ks;

	if ((uri = jwks_discovery_parse((const char *)data, size, "https://issuer.example",
	    why, sizeof(why))) != NULL) {
		(void)jwks_url_parse(uri, 0, &u);
		(void)jwks_url_parse(uri, 1, &u);
		free(uri);
	}
	(void)jwks_cache_control_max_age((const char *)data, size);
	s = xstrndup((const char *)data, size);
	(void)jwks_url_parse(s, 1, &u);
	free(s);
	if ((ks = jwks_set_build("fuzz", (const char *)data, size, 0, why, sizeof(why))) != NULL)
		keys_free(ks);
	return 0;
}
