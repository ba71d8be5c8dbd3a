#!/bin/sh
# Run cmocka suites; exit non-zero if any failed.
status=0
for t in "$@"; do "$t" || status=1; done
exit $status
