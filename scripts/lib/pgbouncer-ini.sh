#!/bin/sh
# pgbouncer-ini.sh [TEMPLATE]: prints the pgbouncer configuration (pgbouncer.ini beside this file by
# default) with each word between at-signs replaced by the environment variable of that name; fails
# naming one that is not set (set but empty is fine). POSIX sh: compose's pgbouncer image runs it too.
set -eu
template=${1:-$(dirname "$0")/pgbouncer.ini}
script=""
for name in $(grep -o '@[A-Z_]*@' "$template" | tr -d @ | sort -u); do
  eval "value=\${$name?is not set (pgbouncer-ini.sh)}"
  script="$script s|@$name@|$value|g;"
done
sed -e "$script" "$template"
