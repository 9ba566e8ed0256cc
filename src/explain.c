/* explain.c: see explain.h. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cfg.h"
#include "defaults.h"
#include "errlist.h"
#include "explain.h"
#include "gate.h"
#include "jwt.h"
#include "policy.h"
#include "revoke.h"
#include "xmalloc.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: scopegate explain [-c file] [--at UNIXTIME] METHOD TARGET\n"
	    "                         (--token TOKEN | --scopes a,b,c | --no-token)\n"
	    "                         [--body JSON|@FILE] [--content-type TYPE]\n"
	    "                         [--client-cert-subject S] [--client-cert-fingerprint HEX]\n"
	    "Prints the decision as JSON; exit 0 when allowed, 1 when denied, 2 on error.\n");
}

/* Split "a,b,c" into a NULL-free array; empty items are dropped. */
static char **
split_scopes(char *list, size_t *n)
{
	char **out = xcalloc(strlen(list) + 1, sizeof(*out));
	char *save = NULL;

	*n = 0;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
		out[(*n)++] = s;
	return out;
}

int
explain_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"token", required_argument, NULL, 'T'},
		{"scopes", required_argument, NULL, 'S'},
		{"no-token", no_argument, NULL, 'N'},
		{"at", required_argument, NULL, 'A'},
		{"body", required_argument, NULL, 'B'},
		{"content-type", required_argument, NULL, 'C'},
		{"client-cert-subject", required_argument, NULL, 'U'},
		{"client-cert-fingerprint", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *conffile = SG_DEFAULT_CONFIG, *token = NULL;
	char *scopes = NULL, *authz = NULL, **names = NULL, *body = NULL;
	const char *body_arg = NULL, *ctype = NULL;
	int ch, mode = 0, rc = 2;
	size_t nnames = 0;
	struct gate_request rq;
	struct gate_decision d;
	struct errlist errs;
	struct cfg *cf;
	struct revoke_store *store = NULL;
	json_t *out;

	memset(&rq, 0, sizeof(rq));
	rq.now = time(NULL);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conffile = optarg; break;
		case 'T': token = optarg; mode++; break;
		case 'S': scopes = optarg; mode++; break;
		case 'N': mode++; break;
		case 'A': rq.now = (time_t)strtoll(optarg, NULL, 10); break;
		case 'B': body_arg = optarg; break;
		case 'C': ctype = optarg; break;
		case 'U': rq.tls_subject = optarg; break;
		case 'F': rq.tls_fingerprint = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || mode != 1) {
		usage(stderr);
		return 2;
	}
	/* The request body, as the daemon would see it: the text itself, or
	 * @FILE; JSON unless said otherwise. */
	if (body_arg != NULL) {
		size_t blen = 0;
		if (body_arg[0] == '@') {
			FILE *fp = fopen(body_arg + 1, "rb");
			if (fp == NULL) {
				fprintf(stderr, "scopegate explain: %s: cannot open\n", body_arg + 1);
				return 2;
			}
			body = xmalloc(SG_MAX_EXPLAIN_BODY + 1);
			blen = fread(body, 1, SG_MAX_EXPLAIN_BODY + 1, fp);
			fclose(fp);
			if (blen > SG_MAX_EXPLAIN_BODY) {
				fprintf(stderr, "scopegate explain: %s: longer than %d bytes\n",
				    body_arg + 1, SG_MAX_EXPLAIN_BODY);
				free(body);
				return 2;
			}
		} else {
			body = xstrdup(body_arg);
			blen = strlen(body);
		}
		rq.body = body;
		rq.body_len = blen;
		rq.content_type = ctype ? ctype : "application/json";
	} else
		rq.content_type = ctype;
	if (rq.tls_subject != NULL && rq.tls_fingerprint == NULL) {
		fprintf(stderr, "scopegate explain: --client-cert-subject needs "
		    "--client-cert-fingerprint\n");
		free(body);
		return 2;
	}
	errlist_init(&errs);
	if ((cf = cfg_load_flags(conffile, &errs, CFG_LOAD_NO_RESOLVE)) == NULL) {
		errlist_print(&errs, stderr);
		errlist_free(&errs);
		return 2;
	}
	rq.method = argv[optind];
	rq.target = argv[optind + 1];
	rq.target_len = strlen(rq.target);
	if (token != NULL) {
		xasprintf(&authz, "Bearer %s", token);
		rq.authorization = authz;
		rq.nauthorization = 1;
	} else if (scopes != NULL) {
		names = split_scopes(scopes, &nnames);
		rq.assume_scopes = (const char *const *)names;
		rq.nassume = nnames;
		rq.assume_token = 1;
	}

	/* What the daemon has revoked (its journal, read without its lock,
	 * and the ids file): a token the daemon would refuse as revoked is
	 * refused here too. Unreadable (another user's 0600 journal): said,
	 * and decided without. */
	{
		struct errlist rerrs;
		errlist_init(&rerrs);
		if ((store = revoke_store_open_read_only(cf->revocations, &rerrs)) == NULL) {
			for (size_t i = 0; i < rerrs.n; i++)
				fprintf(stderr, "scopegate explain: revocations not checked: %s\n",
				    rerrs.msgs[i]);
		}
		errlist_free(&rerrs);
		rq.revocations = store;
	}
	gate_decide(cf, NULL, &rq, &d);
	out = json_object();
	json_object_set_new(out, "decision", json_string(d.allow ? "allow" : "deny"));
	json_object_set_new(out, "status", json_integer(d.allow ? 200 : d.status));
	json_object_set_new(out, "method", json_string(rq.method));
	json_object_set_new(out, "target", json_string(rq.target));
	json_object_set_new(out, "action", d.action ? json_string(d.action->name) : json_null());
	json_object_set_new(out, "reason", json_string(d.reason ? d.reason : ""));
	if (!d.allow)
		json_object_set_new(out, "message", json_string(d.message));
	json_object_set_new(out, "matched_scope", d.scope ? json_string(d.scope) : json_null());
	if (d.action != NULL && cf->policy != NULL) {
		size_t n;
		const char *const *allowing = policy_scopes_allowing(cf->policy, d.action, &n);
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_string(allowing[i]));
		json_object_set_new(out, "allowing_scopes", arr);
		json_object_set_new(out, "public", json_boolean(d.action->public));
	}
	if (d.token_checked && token != NULL) {
		json_object_set_new(out, "token", json_string(jwt_status_str(d.jwt)));
		if (d.subject)
			json_object_set_new(out, "subject", json_string(d.subject));
		if (d.token_id)
			json_object_set_new(out, "token_id", json_string(d.token_id));
	}
	if (d.allow_header[0])
		json_object_set_new(out, "allow", json_string(d.allow_header));
	json_object_set_new(out, "revocations_checked", json_boolean(store != NULL));
	json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(out);
	rc = d.allow ? 0 : 1;
	gate_decision_release(&d);
	free(names);
	free(authz);
	free(body);
	revoke_store_close(store);
	cfg_free(cf);
	errlist_free(&errs);
	return rc;
}
