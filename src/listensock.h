/* listensock.h: the traffic listeners' sockets, made once by the main
 * thread and shared by every worker's loop.
 *
 * Each listener address is bound once, without SO_REUSEPORT, so that a
 * second process asking for a port this instance serves (or this
 * instance asking for one another process serves) fails with "address in
 * use" instead of silently taking a share of the connections with its
 * own, possibly weaker, policy. Every worker registers the same descriptor
 * in its own event loop (the kernel hands each connection to one accept).
 * Sockets received from a service manager (systemd socket activation,
 * the sd_listen_fds(3) protocol, implemented here in a few lines rather
 * than linking libsystemd for it) are adopted here instead: each goes to
 * the listener of its name (FileDescriptorName=), an unnamed listener
 * takes the socket bound to its address, and the bound address must be
 * the configured one. */
#ifndef SCOPEGATE_LISTENSOCK_H
#define SCOPEGATE_LISTENSOCK_H

#include <stddef.h>

struct cfg;
struct listensock_env;

/* Take the sockets a service manager passed (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES; unset from the environment whatever they say). Call
 * before any fork: LISTEN_PID names the process they are for. *out is
 * NULL when none are for this process; a descriptor that is not a
 * listening TCP socket, or variables that do not agree, make -1 with the
 * reason in why. */
int listensock_env_take(struct listensock_env **out, char *why, size_t whylen);

/* How many sockets env holds (0 for NULL). */
int listensock_env_count(const struct listensock_env *env);

/* Free env, closing the sockets no listener took. */
void listensock_env_free(struct listensock_env *env);

/* Bind and listen on every listener of cf, or with env (socket
 * activation) take every listener's socket from it: (*fds)[i] serves
 * cf->listeners[i] (non-blocking, close-on-exec). Returns 0, or -1 with
 * the reason in why ("cannot listen on 127.0.0.1:80: address in use
 * ...", "socket activation: the socket \"x\" ... matches no listener")
 * and nothing left open but env's. The caller frees *fds with
 * listensock_close_all. */
int listensock_open_all(const struct cfg *cf, struct listensock_env *env, int **fds,
    char *why, size_t whylen);

/* Stop the kernel from queueing new connections on them (a connection
 * attempt is refused from now on) while the descriptors stay open: the
 * workers may still have them registered. Not when inherited (they came
 * from a service manager, which keeps them listening so that
 * connections wait for the next start). */
void listensock_stop_all(const int *fds, size_t n, int inherited);

/* Close them and free the array (after every worker has stopped). */
void listensock_close_all(int *fds, size_t n);

/* "127.0.0.1:8080" or "[::1]:8080" into buf; returns buf. */
const char *listensock_spec(const char *address, unsigned port, char *buf, size_t len);

#endif
