/* fuzz_introspect.c: what a token introspection endpoint's answer reaches
 * (introspect_parse.c): the RFC 7662 answer reader with the claim checks
 * under issuer and audience rules, and the cache bound computed from it;
 * and the token rules applied to a client's bearer token before anything
 * is sent. Seeds: oidc-provider, Keycloak and Auth0-shaped answers and
 * hostile variants. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "introspect_parse.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const iss[] = { "https://issuer.example" };
	static const char *const aud[] = { "api" };
	struct introspect_spec spec;
	struct jwt_opts o;
	struct jwt_result *r = NULL;
	enum jwt_status st;
	char why[128];

	memset(&spec, 0, sizeof(spec));
	spec.cache_ttl_s = 60;
	spec.negative_ttl_s = 10;
	jwt_opts_init(&o);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			o.issuers = iss;
			o.nissuers = 1;
			o.audiences = aud;
			o.naudiences = 1;
			o.id_claim = "ext.id";
		}
		if (introspect_answer_parse((const char *)data, size, &o, 1700000000, &st, &r, why,
		    sizeof(why)) == INTROSPECT_ACTIVE) {
			(void)introspect_cache_until(&spec, st, r, 1700000000);
			jwt_result_free(r);
		}
	}
	(void)introspect_token_ok((const char *)data, size, 4096);
	(void)introspect_wants(&spec, (const char *)data, size);
	return 0;
}
