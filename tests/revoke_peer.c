/* revoke_peer.c: one revocation store instance in its own process, for the
 * Redis integration test (tests/integration/revoke_redis.sh) and the crash
 * test. It opens the store, links it to Redis on its own event loop, then
 * in order: waits until synchronized with Redis (or gives up after
 * --connect-timeout-ms and goes on alone), writes --ready-file, applies
 * --revoke/--reinstate (printing "revoked ID at MS" with the wall clock in
 * milliseconds), waits until Redis acknowledged them (--flush-timeout-ms),
 * then --check (exit 0 revoked, 1 not) or --wait-for / --wait-gone (exit 0
 * with "seen ID at MS" as soon as the id is revoked / not revoked, 1 after
 * --timeout-ms). --kill-after-revoke SIGKILLs the process the moment
 * revoke_add returns. --thread runs the Redis link on its own thread
 * (revoke_redis_start) instead of this program's loop. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "errlist.h"
#include "log.h"
#include "revoke.h"
#include "revoke_redis.h"
#include "xmalloc.h"

enum phase { P_CONNECT, P_ACT, P_FLUSH, P_WAIT, P_DONE };

struct peer {
	struct revoke_store *st;
	struct revoke_redis *rr;
	struct event_base *base;
	enum phase phase;
	struct timespec phase_start;
	long connect_timeout_ms, flush_timeout_ms, timeout_ms;
	const char *ready_file;
	char **revoke, **reinstate;
	size_t nrevoke, nreinstate;
	int64_t expires_at;
	const char *check, *wait_for, *wait_gone;
	int kill_after_revoke;
	int status;
};

static long long
wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long
phase_ms(const struct peer *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - p->phase_start.tv_sec) * 1000 +
	    (now.tv_nsec - p->phase_start.tv_nsec) / 1000000);
}

static void
next_phase(struct peer *p, enum phase ph)
{
	p->phase = ph;
	clock_gettime(CLOCK_MONOTONIC, &p->phase_start);
}

static int
revoked(const struct peer *p, const char *id)
{
	return revoke_is_revoked(p->st, id, strlen(id));
}

/* Apply the requested changes. 0 or -1. */
static int
act(struct peer *p)
{
	enum revoke_result r;

	for (size_t i = 0; i < p->nrevoke; i++) {
		r = revoke_add(p->st, p->revoke[i], strlen(p->revoke[i]), p->expires_at);
		if (p->kill_after_revoke)
			kill(getpid(), SIGKILL);
		if (r != REVOKE_OK) {
			fprintf(stderr, "revoke_peer: revoke %s: %s\n", p->revoke[i],
			    revoke_result_str(r));
			return -1;
		}
		printf("revoked %s at %lld\n", p->revoke[i], wall_ms());
	}
	for (size_t i = 0; i < p->nreinstate; i++) {
		r = revoke_remove(p->st, p->reinstate[i], strlen(p->reinstate[i]));
		if (r != REVOKE_OK) {
			fprintf(stderr, "revoke_peer: reinstate %s: %s\n", p->reinstate[i],
			    revoke_result_str(r));
			return -1;
		}
		printf("reinstated %s at %lld\n", p->reinstate[i], wall_ms());
	}
	fflush(stdout);
	return 0;
}

/* Every millisecond: move through the phases. */
static void
step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	FILE *fp;

	(void)fd;
	(void)what;
	switch (p->phase) {
	case P_CONNECT:
		if (p->rr != NULL && !revoke_redis_up(p->rr) && phase_ms(p) < p->connect_timeout_ms)
			return;
		if (p->rr != NULL && !revoke_redis_up(p->rr))
			fprintf(stderr, "revoke_peer: not synchronized with redis, going on\n");
		if (p->ready_file != NULL) {
			if ((fp = fopen(p->ready_file, "w")) == NULL) {
				perror(p->ready_file);
				p->status = 2;
				next_phase(p, P_DONE);
				break;
			}
			fprintf(fp, "%d\n", (int)getpid());
			fclose(fp);
		}
		next_phase(p, P_ACT);
		/* FALLTHROUGH */
	case P_ACT:
		if (act(p) != 0) {
			p->status = 2;
			next_phase(p, P_DONE);
			break;
		}
		next_phase(p, P_FLUSH);
		/* FALLTHROUGH */
	case P_FLUSH:
		if (p->rr != NULL && revoke_redis_pending(p->rr) > 0) {
			if (phase_ms(p) < p->flush_timeout_ms)
				return;
			fprintf(stderr, "revoke_peer: %zu change(s) not acknowledged by redis\n",
			    revoke_redis_pending(p->rr));
			p->status = 3;
		}
		next_phase(p, P_WAIT);
		/* FALLTHROUGH */
	case P_WAIT:
		if (p->check != NULL) {
			p->status = p->status ? p->status : (revoked(p, p->check) ? 0 : 1);
			printf("%s %s\n", p->check, revoked(p, p->check) ? "revoked" : "not revoked");
		} else if (p->wait_for != NULL || p->wait_gone != NULL) {
			const char *id = p->wait_for ? p->wait_for : p->wait_gone;
			int want = p->wait_for != NULL;
			if (revoked(p, id) != want) {
				if (phase_ms(p) < p->timeout_ms)
					return;
				printf("timeout waiting for %s\n", id);
				p->status = 1;
			} else
				printf("seen %s %s at %lld\n", id, want ? "revoked" : "reinstated",
				    wall_ms());
		}
		fflush(stdout);
		next_phase(p, P_DONE);
		break;
	case P_DONE:
		break;
	}
	if (p->phase == P_DONE)
		event_base_loopbreak(p->base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: revoke_peer [--journal FILE] [--ids-file FILE] [--redis URL]\n"
	    "  [--redis-key K] [--redis-channel C] [--connect-timeout-ms N] [--ready-file F]\n"
	    "  [--revoke ID]... [--reinstate ID]... [--expires-at T] [--kill-after-revoke]\n"
	    "  [--flush-timeout-ms N] [--check ID | --wait-for ID | --wait-gone ID]\n"
	    "  [--timeout-ms N] [--list] [--thread] [--debug] [--max-entries N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, 'j' },
		{ "ids-file", required_argument, NULL, 'i' },
		{ "redis", required_argument, NULL, 'r' },
		{ "redis-key", required_argument, NULL, 'k' },
		{ "redis-channel", required_argument, NULL, 'C' },
		{ "connect-timeout-ms", required_argument, NULL, 'T' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "revoke", required_argument, NULL, 'a' },
		{ "reinstate", required_argument, NULL, 'd' },
		{ "expires-at", required_argument, NULL, 'e' },
		{ "kill-after-revoke", no_argument, NULL, 'K' },
		{ "flush-timeout-ms", required_argument, NULL, 'F' },
		{ "check", required_argument, NULL, 'c' },
		{ "wait-for", required_argument, NULL, 'w' },
		{ "wait-gone", required_argument, NULL, 'g' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'D' },
		{ "thread", no_argument, NULL, 'H' },
		{ "max-entries", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	struct revoke_config rc = {
		.retention_s = SG_DEFAULT_REVOKE_RETENTION_S,
		.redis_key = (char *)SG_DEFAULT_REVOKE_REDIS_KEY,
		.redis_channel = (char *)SG_DEFAULT_REVOKE_REDIS_CHANNEL,
		.redis_max_entries = SG_DEFAULT_REVOKE_REDIS_MAX_ENTRIES,
	};
	struct peer p = {
		.connect_timeout_ms = 3000,
		.flush_timeout_ms = 3000,
		.timeout_ms = 1000,
	};
	const char *redis = NULL;
	struct timeval ms = { 0, 1000 };
	struct event *step = NULL;
	struct errlist errs;
	int c, list = 0, debug = 0, thread = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': rc.journal = optarg; break;
		case 'i': rc.ids_file = optarg; break;
		case 'r': redis = optarg; break;
		case 'k': rc.redis_key = optarg; break;
		case 'C': rc.redis_channel = optarg; break;
		case 'M': rc.redis_max_entries = atol(optarg); break;
		case 'T': p.connect_timeout_ms = atol(optarg); break;
		case 'R': p.ready_file = optarg; break;
		case 'a':
			p.revoke = xreallocarray(p.revoke, p.nrevoke + 1, sizeof(*p.revoke));
			p.revoke[p.nrevoke++] = optarg;
			break;
		case 'd':
			p.reinstate = xreallocarray(p.reinstate, p.nreinstate + 1,
			    sizeof(*p.reinstate));
			p.reinstate[p.nreinstate++] = optarg;
			break;
		case 'e': p.expires_at = atoll(optarg); break;
		case 'K': p.kill_after_revoke = 1; break;
		case 'F': p.flush_timeout_ms = atol(optarg); break;
		case 'c': p.check = optarg; break;
		case 'w': p.wait_for = optarg; break;
		case 'g': p.wait_gone = optarg; break;
		case 't': p.timeout_ms = atol(optarg); break;
		case 'l': list = 1; break;
		case 'D': debug = 1; break;
		case 'H': thread = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init(1, debug);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The URL goes through the real config parser. */
	if (redis != NULL) {
		struct jsonconf jc = { .file = "--redis", .errs = NULL };
		struct revoke_config *parsed;
		json_t *o = json_pack("{s:s}", "redis", redis);

		errlist_init(&errs);
		jc.errs = &errs;
		if (o == NULL || (parsed = revoke_config_parse(&jc, o, "", NULL)) == NULL) {
			errlist_print(&errs, stderr);
			return 2;
		}
		rc.redis_url = parsed->redis_url;
		rc.redis_host = parsed->redis_host;
		rc.redis_port = parsed->redis_port;
		rc.redis_db = parsed->redis_db;
		parsed->redis_url = parsed->redis_host = NULL;
		revoke_config_free(parsed);
		json_decref(o);
		errlist_free(&errs);
	}

	errlist_init(&errs);
	if ((p.st = revoke_store_open(&rc, &errs)) == NULL) {
		errlist_print(&errs, stderr);
		return 2;
	}
	errlist_free(&errs);
	if ((p.base = event_base_new()) == NULL)
		return 2;
	if (redis != NULL && (p.rr = thread ? revoke_redis_start(p.st) :
	    revoke_redis_attach(p.st, p.base)) == NULL)
		return 2;
	next_phase(&p, P_CONNECT);
	step = event_new(p.base, -1, EV_PERSIST, step_cb, &p);
	event_add(step, &ms);
	event_base_dispatch(p.base);

	if (list) {
		json_t *l = revoke_list_json(p.st);
		json_dumpf(l, stdout, JSON_COMPACT);
		printf("\n");
		json_decref(l);
	}
	event_free(step);
	revoke_redis_free(p.rr);
	event_base_free(p.base);
	revoke_store_close(p.st);
	free(rc.redis_url);
	free(rc.redis_host);
	free(p.revoke);
	free(p.reinstate);
	return p.status;
}
