/* explain.h: `scopegate explain`, the offline answer to "would this request
 * be allowed, and why", from the same files and the same decision code as
 * the daemon. */
#ifndef SCOPEGATE_EXPLAIN_H
#define SCOPEGATE_EXPLAIN_H

/* argv[0] is "explain". Returns the process exit status: 0 allowed,
 * 1 denied, 2 usage or configuration error. */
int explain_main(int argc, char **argv);

#endif
