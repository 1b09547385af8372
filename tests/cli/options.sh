#!/usr/bin/env bash
# options.sh: every numeric option of every command fed garbage, NaN, Inf, empty and out-of-range values: exit 2,
# a message naming the option, no crash and no file; --help lists the bounds the parser enforces (options.py).
# OPTIONS_FULL=1 gives every option the whole table of bad values (minutes instead of seconds).
set -uo pipefail
: "${CRITNET_BIN:?}"
exec /usr/bin/python3 "$(dirname "$0")/options.py"
