/* main.c: command line, start-up and signals. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "accesslog.h"
#include "cfg.h"
#include "defaults.h"
#include "errlist.h"
#include "explain.h"
#include "log.h"
#include "worker.h"

struct runtime {
	struct event_base *base;
	struct cfg *cf;
	struct accesslog *alog;
	struct worker worker;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: scopegate [-dft] [-c file]\n"
	    "       scopegate explain [-c file] METHOD TARGET (--token T | --scopes a,b | --no-token)\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check the configuration and exit 0 (valid) or 1\n"
	    "  -f, --foreground   stay in the foreground and log to stderr\n"
	    "  -d, --debug        debug logging\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "Signals: TERM/INT drain in-flight requests and exit; USR1 reopens the access log.\n",
	    SG_DEFAULT_CONFIG);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	worker_drain(&rt->worker);
}

static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)sig;
	(void)what;
	if (rt->alog != NULL && accesslog_reopen(rt->alog) == 0)
		log_info("access log reopened");
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	/* Live reload arrives with the worker/snapshot work; until then say
	 * so instead of pretending. */
	log_warnx("SIGHUP: configuration reload is not supported yet; restart to apply changes");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 't'},
		{"foreground", no_argument, NULL, 'f'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *conffile = SG_DEFAULT_CONFIG;
	int test = 0, foreground = 0, debug = 0, ch, rc = 1;
	struct runtime rt;
	struct errlist errs;
	struct event *sigs[5];

	memset(&rt, 0, sizeof(rt));
	if (argc > 1 && strcmp(argv[1], "explain") == 0)
		return explain_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:tfdhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conffile = optarg; break;
		case 't': test = 1; break;
		case 'f': foreground = 1; break;
		case 'd': debug = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("scopegate %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	log_init(1, debug);
	errlist_init(&errs);
	rt.cf = cfg_load(conffile, &errs);
	if (rt.cf == NULL) {
		errlist_print(&errs, stderr);
		fprintf(stderr, "scopegate: %s: %zu error(s), configuration not loaded\n",
		    conffile, errs.n);
		errlist_free(&errs);
		return 1;
	}
	if (test) {
		printf("scopegate: %s: configuration OK\n", conffile);
		cfg_free(rt.cf);
		return 0;
	}
	if (rt.cf->debug)
		log_set_debug(1);
	if (rt.cf->access_log != NULL &&
	    (rt.alog = accesslog_open(rt.cf->access_log, &errs)) == NULL) {
		errlist_print(&errs, stderr);
		goto out;
	}
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, debug || rt.cf->debug);
	}
	signal(SIGPIPE, SIG_IGN);
	log_bridge_libevent();
	if ((rt.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (worker_init(&rt.worker, rt.base, rt.cf, rt.alog) != 0)
		goto out;

	sigs[0] = evsignal_new(rt.base, SIGTERM, on_stop, &rt);
	sigs[1] = evsignal_new(rt.base, SIGINT, on_stop, &rt);
	sigs[2] = evsignal_new(rt.base, SIGUSR1, on_usr1, &rt);
	sigs[3] = evsignal_new(rt.base, SIGHUP, on_hup, &rt);
	sigs[4] = NULL;
	for (int i = 0; sigs[i]; i++)
		evsignal_add(sigs[i], NULL);

	log_info("scopegate %s started, upstream %s", PACKAGE_VERSION, rt.cf->upstream.url);
	event_base_dispatch(rt.base);
	log_info("stopped");
	rc = 0;
	for (int i = 0; sigs[i]; i++)
		event_free(sigs[i]);
out:
	worker_free(&rt.worker);
	if (rt.base != NULL)
		event_base_free(rt.base);
	accesslog_close(rt.alog);
	cfg_free(rt.cf);
	errlist_free(&errs);
	return rc;
}
