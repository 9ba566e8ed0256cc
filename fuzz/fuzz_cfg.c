/* fuzz_cfg.c: the configuration loader (cfg_load) on arbitrary bytes,
 * written as a file in a private empty folder so that relative paths in it
 * name nothing (so "upstream_routes" by action always fail: no policy).
 * The upstream name is not resolved (no DNS while fuzzing).
 * A configuration either loads with no error listed, or does not load and
 * says why; a loaded one keeps its own invariants. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "errlist.h"
#include "ratelimits.h"
#include "revoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void
remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs;
	struct cfg *cf;
	FILE *fp;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_cfg.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/c.json", dir);
		atexit(remove_dir);
	}
	if ((fp = fopen(path, "w")) == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);

	errlist_init(&errs);
	cf = cfg_load_flags(path, &errs, CFG_LOAD_NO_RESOLVE);
	if ((cf == NULL) != (errs.n > 0))
		abort();	/* loaded with errors, or refused without a reason */
	if (cf != NULL) {
		const struct cfg_upstreams *u = &cf->ups;
		if (cf->nlisteners == 0 || cfg_upstreams_first(cf)->host == NULL ||
		    cfg_upstreams_first(cf)->port == 0)
			abort();
		/* Named upstreams: every one has servers with a host and a
		 * weight, and every route names one of them. */
		if (u->ngroups == 0 || u->default_group >= u->ngroups)
			abort();
		for (size_t g = 0; g < u->ngroups; g++) {
			if (u->groups[g].nservers == 0)
				abort();
			for (size_t i = 0; i < u->groups[g].nservers; i++)
				if (u->groups[g].servers[i]->host == NULL || u->groups[g].weights[i] < 1)
					abort();
		}
		for (size_t a = 0; a < u->nactions; a++)
			if (u->action_group[a] != CFG_UPSTREAM_NONE && u->action_group[a] >= u->ngroups)
				abort();
		for (size_t r = 0; r < u->npath_routes; r++)
			if (u->path_routes[r].group >= u->ngroups || u->path_routes[r].prefix[0] != '/')
				abort();
		if (cfg_upstreams_route(u, SIZE_MAX, "/") >= u->ngroups)
			abort();
		if (cf->rate_limit.key != CFG_RATE_NONE &&
		    (cf->rate_limit.interval_us == 0 || cf->rate_limit.burst == 0))
			abort();
		/* "rate_limits": every limit counts something, shared ones
		 * only with a Redis. */
		for (size_t i = 0; cf->ratelimits != NULL && i < cf->ratelimits->n; i++) {
			const struct ratelimits_limit *l = &cf->ratelimits->v[i];

			if (l->interval_us == 0 || l->burst == 0 || l->expected_instances < 1 ||
			    (l->shared && cf->revocations->redis_host == NULL) ||
			    ((l->key == RATELIMITS_KEY_CLAIM || l->key == RATELIMITS_KEY_PARAM) &&
			    l->name == NULL))
				abort();
		}
		cfg_unref(cf);
	}
	errlist_free(&errs);
	unlink(path);
	return 0;
}
