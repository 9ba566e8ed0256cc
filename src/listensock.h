/* listensock.h: the traffic listeners' sockets, made once by the main
 * thread and shared by every worker's loop.
 *
 * Each listener address is bound once, without SO_REUSEPORT, so that a
 * second process asking for a port this instance serves (or this
 * instance asking for one another process serves) fails with "address in
 * use" instead of silently taking a share of the connections with its
 * own, possibly weaker, policy. Every worker registers the same descriptor
 * in its own event loop (the kernel hands each connection to one accept).
 * This is also the one place where sockets received from a service
 * manager would be adopted. */
#ifndef SCOPEGATE_LISTENSOCK_H
#define SCOPEGATE_LISTENSOCK_H

#include <stddef.h>

struct cfg;

/* Bind and listen on every listener of cf: (*fds)[i] serves
 * cf->listeners[i] (non-blocking, close-on-exec). Returns 0, or -1 with
 * the reason in why ("cannot listen on 127.0.0.1:80: address in use
 * ...") and nothing left open. The caller frees *fds with
 * listensock_close_all. */
int listensock_open_all(const struct cfg *cf, int **fds, char *why, size_t whylen);

/* Stop the kernel from queueing new connections on them (a connection
 * attempt is refused from now on) while the descriptors stay open: the
 * workers may still have them registered. */
void listensock_stop_all(const int *fds, size_t n);

/* Close them and free the array (after every worker has stopped). */
void listensock_close_all(int *fds, size_t n);

/* "127.0.0.1:8080" or "[::1]:8080" into buf; returns buf. */
const char *listensock_spec(const char *address, unsigned port, char *buf, size_t len);

#endif
