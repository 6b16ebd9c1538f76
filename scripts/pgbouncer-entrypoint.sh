#!/bin/sh
# pgbouncer in a container (compose.yaml): the stack's configuration, scripts/lib/pgbouncer.ini, for one
# database, listening on every interface and logging to standard error.
#   DB_HOST, DB_PORT (5432), DB_NAME, DB_USER (postgres), LISTEN_PORT (6432)
set -eu
: "${DB_HOST:?}" "${DB_NAME:?}"
export DB_HOST DB_NAME DB_PORT="${DB_PORT:-5432}" DB_USER="${DB_USER:-postgres}" LISTEN_ADDR=0.0.0.0 \
  LISTEN_PORT="${LISTEN_PORT:-6432}" AUTH_FILE=/tmp/userlist.txt LOGFILE='' PIDFILE=''
printf '"%s" ""\n' "$DB_USER" >"$AUTH_FILE"
sh "$(dirname "$0")/lib/pgbouncer-ini.sh" >/tmp/pgbouncer.ini
exec pgbouncer /tmp/pgbouncer.ini
