/* explain.c: see explain.h. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
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
#include "reportmode.h"
#include "revoke.h"
#include "xmalloc.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: scopegate explain [-c file] [--at UNIXTIME] METHOD TARGET\n"
	    "                         (--token TOKEN | --scopes a,b,c | --no-token)\n"
	    "                         [--body FILE|- [--content-type TYPE]]\n"
	    "                         [--client-cert-subject S --client-cert-fingerprint HEX]\n"
	    "Prints the decision as JSON; exit 0 when allowed, 1 when denied, 2 on error.\n"
	    "Without --body an action's body rules are not checked (\"body\": \"not checked\");\n"
	    "with it, the body (read from FILE, or standard input for -) is checked as the\n"
	    "daemon would, sent as --content-type (default application/json).\n");
}

/* Read all of path ("-": standard input) into *buf (NUL-terminated, for
 * the messages; *len excludes it), at most max + 1 bytes so that an
 * oversized body is seen as such. Returns 0, or -1 with errno. */
static int
read_body(const char *path, size_t max, char **buf, size_t *len)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 4096, n = 0, r;
	char *b;

	if (fp == NULL)
		return -1;
	b = xmalloc(cap + 1);
	while (n <= max && (r = fread(b + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			b = xreallocarray(b, cap + 1, 1);
		}
	}
	if (ferror(fp)) {
		free(b);
		if (fp != stdin)
			fclose(fp);
		return -1;
	}
	if (fp != stdin)
		fclose(fp);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
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
	const char *body_path = NULL, *content_type = NULL;
	char *scopes = NULL, *authz = NULL, **names = NULL, *body = NULL;
	size_t body_len = 0;
	int too_large = 0;
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
		case 'B': body_path = optarg; break;
		case 'C': content_type = optarg; break;
		case 'U': rq.tls_subject = optarg; break;
		case 'F': rq.tls_fingerprint = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || mode != 1 || (content_type != NULL && body_path == NULL)) {
		usage(stderr);
		return 2;
	}
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
	if (body_path != NULL) {
		if (read_body(body_path, (size_t)cf->limits.max_body_bytes, &body, &body_len) != 0) {
			fprintf(stderr, "scopegate explain: %s: %s\n", body_path, strerror(errno));
			cfg_free(cf);
			errlist_free(&errs);
			return 2;
		}
		/* The daemon refuses it (413) before any rule sees it. */
		too_large = body_len > (size_t)cf->limits.max_body_bytes;
		rq.skip_body = too_large;
		rq.body = body;
		rq.body_len = body_len;
		rq.content_type = content_type != NULL ? content_type : "application/json";
	} else
		rq.skip_body = 1;
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
	if (too_large && d.allow) {
		d.allow = 0;
		d.status = 413;
		d.reason = "body_too_large";
		snprintf(d.message, sizeof(d.message), "Request body larger than %lld bytes",
		    (long long)cf->limits.max_body_bytes);
	}
	out = json_object();
	/* Report mode: the daemon forwards it; the policy's verdict is
	 * still said, with the status enforcing would answer. */
	json_object_set_new(out, "decision", json_string(d.would_deny != NULL ? "would_deny" :
	    d.allow ? "allow" : "deny"));
	json_object_set_new(out, "status", json_integer(d.allow ? 200 : d.status));
	json_object_set_new(out, "mode", json_string(reportmode_is_report(cf, d.action) ?
	    "report" : "enforce"));
	if (d.would_deny != NULL) {
		json_object_set_new(out, "would_status", json_integer(d.would_status));
		json_object_set_new(out, "would_deny_reason", json_string(d.would_deny));
	}
	json_object_set_new(out, "method", json_string(rq.method));
	json_object_set_new(out, "target", json_string(rq.target));
	json_object_set_new(out, "action", d.action ? json_string(d.action->name) : json_null());
	json_object_set_new(out, "reason", json_string(d.reason ? d.reason : ""));
	if (!d.allow || d.would_deny != NULL)
		json_object_set_new(out, "message", json_string(d.message));
	json_object_set_new(out, "matched_scope", d.scope ? json_string(d.scope) : json_null());
	if (d.action != NULL && cf->policy != NULL) {
		size_t n;
		const char *const *allowing = policy_scopes_allowing(cf->policy, d.action, &n);
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_string(allowing[i]));
		for (size_t i = 0; i < d.action->nall_of; i++)
			json_array_append_new(arr, json_string(d.action->all_of_names[i]));
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
	/* What was decided about the body: "checked" against the action's
	 * rules, "not checked" (it has rules, no --body was given), or "no
	 * rules" (the daemon streams it to the upstream unread). */
	if (d.action != NULL) {
		int rules = cf->body_schema != NULL && cf->body_schema[d.action->index] != NULL;
		json_object_set_new(out, "body", json_string(!rules ? "no rules" :
		    body_path != NULL ? "checked" : "not checked"));
		if (body_path != NULL)
			json_object_set_new(out, "content_type", json_string(rq.content_type));
	}
	/* Where the daemon would send it (cfg_upstreams_route), and that
	 * upstream's servers. */
	if (d.allow && cf->ups.ngroups > 0) {
		const struct cfg_upstream_group *g = &cf->ups.groups[cfg_upstreams_route(&cf->ups,
		    d.action != NULL ? d.action->index : SIZE_MAX, rq.target)];
		json_t *arr = json_array();
		for (size_t i = 0; i < g->nservers; i++)
			json_array_append_new(arr, json_string(g->servers[i]->url));
		json_object_set_new(out, "upstream", json_string(g->name));
		json_object_set_new(out, "upstream_servers", arr);
	}
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
