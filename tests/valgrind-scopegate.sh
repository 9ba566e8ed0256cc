#!/bin/sh
# valgrind-scopegate.sh: stands in for the daemon in the integration tests
# under `make check-valgrind`: runs the real binary ($SCOPEGATE_REAL) under
# memcheck, one log per process in $VG_DIR.
exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --log-file="$VG_DIR/scopegate.%p.log" "$SCOPEGATE_REAL" "$@"
