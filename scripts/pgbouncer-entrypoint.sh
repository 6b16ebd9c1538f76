#!/bin/sh
# pgbouncer in a container (compose.yaml): one database, transaction pooling, named prepared statements.
#   DB_HOST, DB_PORT (5432), DB_NAME, DB_USER (postgres), LISTEN_PORT (6432)
set -eu
: "${DB_HOST:?}" "${DB_NAME:?}"
conf=/tmp/pgbouncer.ini
printf '"%s" ""\n' "${DB_USER:-postgres}" >/tmp/userlist.txt
cat >"$conf" <<INI
[databases]
$DB_NAME = host=$DB_HOST port=${DB_PORT:-5432} dbname=$DB_NAME user=${DB_USER:-postgres}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir =
auth_type = trust
auth_file = /tmp/userlist.txt
pool_mode = transaction
max_prepared_statements = 200
max_client_conn = 2000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
INI
exec pgbouncer "$conf"
