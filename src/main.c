/* main.c: command line, start-up and signals. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "cfg.h"
#include "defaults.h"
#include "errlist.h"
#include "explain.h"
#include "libmem.h"
#include "listensock.h"
#include "log.h"
#include "revoke.h"
#include "runtime.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: scopegate [-dft] [-c file]\n"
	    "       scopegate explain [-c file] [--at UNIXTIME] METHOD TARGET\n"
	    "                         (--token T | --scopes a,b | --no-token)\n"
	    "                         [--body FILE|- [--content-type TYPE]]\n"
	    "                         [--client-cert-subject S --client-cert-fingerprint HEX]\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check the configuration and exit 0 (valid) or 1\n"
	    "  -f, --foreground   stay in the foreground and log to stderr\n"
	    "  -d, --debug        debug logging\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "Signals: TERM/INT drain in-flight requests and exit; HUP reloads the configuration,\n"
	    "policy and keys; USR1 reopens the access log.\n",
	    SG_DEFAULT_CONFIG);
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
	int test = 0, foreground = 0, debug = 0, ch;
	struct accesslog *alog = NULL;
	struct listensock_env *lenv = NULL;
	struct errlist errs;
	struct cfg *cf;
	int libmem;

	/* Before anything allocates through OpenSSL. */
	libmem = libmem_install();
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
	if (libmem != 0)
		log_debug("OpenSSL allocated before main(): its own allocation functions stay");
	errlist_init(&errs);
	cf = cfg_load(conffile, &errs);
	if (cf == NULL) {
		errlist_print(&errs, stderr);
		if (test)
			fprintf(stderr, "scopegate: %s: %zu error(s), configuration not loaded\n",
			    conffile, errs.n);
		else {
			log_fatal("%s: %zu error(s), configuration not loaded", conffile, errs.n);
			log_exit(1, "the configuration did not load");
		}
		errlist_free(&errs);
		return 1;
	}
	/* The ids file is read by the start and every reload, which refuse
	 * a bad one: so does the check (ExecStartPre, ExecReload). */
	if (test && revoke_ids_file_check(cf->revocations, &errs) != 0) {
		errlist_print(&errs, stderr);
		fprintf(stderr, "scopegate: %s: %zu error(s) in the revocation ids file\n",
		    conffile, errs.n);
		errlist_free(&errs);
		cfg_free(cf);
		return 1;
	}
	if (test) {
		printf("scopegate: %s: configuration OK\n", conffile);
		cfg_free(cf);
		return 0;
	}
	if (cf->debug)
		log_set_debug(1);
	/* Before daemon(): LISTEN_PID names this process, not its child. */
	{
		char msg[256];
		if (listensock_env_take(&lenv, msg, sizeof(msg)) != 0) {
			log_fatal("%s", msg);
			cfg_free(cf);
			log_exit(1, "the sockets passed by the service manager are unusable");
			return 1;
		}
	}
	if (cf->access_log != NULL && (alog = accesslog_open(cf->access_log, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			log_fatal("%s", errs.msgs[i]);
		errlist_free(&errs);
		cfg_free(cf);
		listensock_env_free(lenv);
		log_exit(1, "cannot open the access log");
		return 1;
	}
	errlist_free(&errs);
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, debug || cf->debug);
	}
	log_bridge_libevent();
	/* The runtime owns cf from here. */
	char why[512] = "stopped";
	int rc = runtime_run(conffile, cf, alog, lenv, why, sizeof(why));
	listensock_env_free(lenv);
	accesslog_close(alog);
	log_exit(rc, why);
	return rc;
}
