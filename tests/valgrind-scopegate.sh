#!/bin/sh
# valgrind-scopegate.sh: stands in for the daemon in the integration tests
# under `make check-valgrind`: runs the real binary ($SCOPEGATE_REAL) under
# memcheck, one log per process in $VG_DIR. --fair-sched=yes: valgrind runs
# one thread at a time, and its default lock can leave a worker without a
# turn for seconds (requests then time out for the scheduler's sake).
# --soname-synonyms: the daemon's malloc is jemalloc's (configure.ac);
# memcheck must replace that one to see every allocation and leak.
exec valgrind --tool=memcheck --fair-sched=yes --soname-synonyms=somalloc=*jemalloc* --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --log-file="$VG_DIR/scopegate.%p.log" "$SCOPEGATE_REAL" "$@"
