/* procstat.h: the process_* figures of /metrics (Prometheus client
 * conventions) from getrusage(2), getrlimit(2) and /proc/self (statm and
 * fd, both visible under the unit's ProcSubset=pid). */
#ifndef SCOPEGATE_PROCSTAT_H
#define SCOPEGATE_PROCSTAT_H

#include "metrics.h"

/* Fill p (p->ok 0 when /proc/self cannot be read); start_time is the
 * process's start, which the caller recorded. */
void procstat_read(struct metrics_process *p, double start_time);

#endif
