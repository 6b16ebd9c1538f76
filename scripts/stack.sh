#!/usr/bin/env bash
# The local stack, without Docker: PostgreSQL with a database per service, a pgbouncer in front of each
# (transaction pooling), migrations applied, Redis for cart's shared rate limit, and a 3-node Apache
# Kafka cluster for order-status events (scripts/lib/kafka.sh).
#
#   scripts/stack.sh up       start what is not running (a second `up` changes nothing), apply migrations,
#                             make the development identity provider's key pair (scripts/lib/common.sh)
#   scripts/stack.sh down     stop what `up` started here, and nothing else
#   scripts/stack.sh postgres only PostgreSQL (what `just gen` needs for cornucopia's throw-away databases)
#   scripts/stack.sh kafka    only the 3-node Kafka cluster and its topic (scripts/lib/kafka.sh); it also
#                             restarts the nodes that died and waits until they are in sync again
#   scripts/stack.sh kafka-down | kafka-pid N
#                             stop the whole cluster (the outage test) | print node N's pid (the kill test)
#   scripts/stack.sh status   one line per component
#   scripts/stack.sh bouncer NAME PORT DATABASE | unbouncer NAME
#                             one more pgbouncer (or stop it): the outage test stops and starts its own
#   scripts/stack.sh pause NAME | resume NAME
#                             SIGSTOP / SIGCONT that pgbouncer: a stall (connections open, no answers)
#
# PostgreSQL: the server answering on $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres, trust) is
# used when there is one; otherwise Debian's postgresql is installed when missing and a cluster of our own
# is started. Redis: the server answering on 127.0.0.1:$REDIS_PORT (default 6379), else one of our own
# (Debian's redis-server, nothing written to disk). pgbouncer (built by scripts/pgbouncer.sh) refuses to
# run as root, so, like our PostgreSQL, it runs as the postgres user.
#
# Where the files live: a process that runs as postgres can only use files in folders that user can
# enter, and the checkout may sit in one it cannot (root's home is 0700, so is a `mktemp -d` folder). So
# every runtime file of the stack (data, configs, logs, pid files, the pgbouncer binary) lives in
# $ROUTE256_STATE: by default /var/lib/route256/<checkout> as root, ~/.local/state/route256/<checkout>
# otherwise, keyed by the checkout's path so that two checkouts never share (or stop) each other's.
#
# The ports are the contract's, from scripts/lib/ports.sh. Each pgbouncer (configured from
# scripts/lib/pgbouncer.ini, as compose.yaml's are) serves its service's database and, through a
# wildcard entry, any other database of the server: the tests create throw-away ones.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
source scripts/lib/common.sh

REDIS_PORT=${REDIS_PORT:-${stack_port[redis]}}
state=$(state_dir "$root")
bouncers=("cart:${CART_PGBOUNCER_PORT:-${stack_port[pgbouncer-cart]}}"
  "loms:${LOMS_PGBOUNCER_PORT:-${stack_port[pgbouncer-loms]}}"
  "notifier:${NOTIFIER_PGBOUNCER_PORT:-${stack_port[pgbouncer-notifier]}}")

own_dir() { # own_dir NAME USER: $state/NAME, made if missing; as root, USER's and enterable on the way
  local dir=$state/$1
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    [ -z "${ROUTE256_STATE:-}" ] && chmod 755 "$(dirname "$state")"
    chmod 755 "$state"
    chown "$2:" "$dir"
  fi
  echo "$dir"
}

as_user() { # as_user USER COMMAND...: runs COMMAND as USER when we are root, else as ourselves
  local user=$1
  shift
  # From /: USER may not enter the working directory (every path given is absolute).
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 2; }

start_own_postgres() {
  apt_install postgresql
  local bin dir data
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  dir=$(own_dir postgres postgres)
  data=$dir/data
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initialising a cluster in $data"
    as_user postgres "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  log "starting PostgreSQL on $PGHOST:$PGPORT from $data"
  # pg_stat_statements, as production servers have it: `just bench` reads its timings (BENCH_PROFILE).
  as_user postgres "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=$PGHOST -p $PGPORT -k $dir -c shared_preload_libraries=pg_stat_statements" \
    start >/dev/null
  touch "$dir/started-by-stack"
}

stop_own_postgres() {
  local dir=$state/postgres bin
  [ -f "$dir/started-by-stack" ] || return 0
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
  as_user postgres "$bin/pg_ctl" -D "$dir/data" -w stop >/dev/null && log "stopped our PostgreSQL"
  rm -f "$dir/started-by-stack"
}

ensure_postgres() {
  pg_up || start_own_postgres
  pg_up || { log "PostgreSQL does not answer on $PGHOST:$PGPORT"; exit 1; }
}

start_redis() {
  if answers "$REDIS_PORT"; then
    log "Redis already answers on $REDIS_PORT"
    return
  fi
  apt_install redis-server
  local dir
  dir=$(own_dir redis redis)
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  # A rate limiter's state is worth nothing after a restart: nothing is written to disk.
  as_user redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do answers "$REDIS_PORT" && return; sleep 0.1; done
  log "Redis did not start; its log:"
  tail -n 20 "$dir/redis.log" >&2 || true
  exit 1
}

# Jaeger v2, the traces' store (deploy/jaeger/config.yaml: in memory, OTLP on 4317/4318, the UI and its
# query API on 16686): built once into the cache by scripts/go-tool.sh, with its web UI's folder beside
# it; the one answering there, if any, is used.
start_jaeger() {
  if answers "${stack_port[otlp-grpc]}"; then
    log "an OTLP receiver already answers on ${stack_port[otlp-grpc]}: traces go there"
    return
  fi
  local dir binary ui
  binary=$(bash "$root/scripts/go-tool.sh" jaeger)
  ui=$(bash "$root/scripts/go-tool.sh" jaeger-ui)
  dir=$(own_dir jaeger "$(id -un)")
  log "starting Jaeger: OTLP on 127.0.0.1:${stack_port[otlp-grpc]}, UI and query API on 127.0.0.1:${stack_port[jaeger-ui]}"
  JAEGER_ADDR=127.0.0.1 JAEGER_UI_ASSETS=$ui setsid "$binary" --config "$root/deploy/jaeger/config.yaml" \
    >"$dir/jaeger.log" 2>&1 </dev/null &
  echo $! >"$dir/jaeger.pid"
  for _ in $(seq 100); do
    answers "${stack_port[otlp-grpc]}" && answers "${stack_port[jaeger-ui]}" && return
    sleep 0.1
  done
  log "Jaeger did not start; its log:"
  tail -n 20 "$dir/jaeger.log" >&2 || true
  exit 1
}

# stop_by_pidfile FILE SIGNAL WHAT PROGRAM: stops the process FILE names if it is still PROGRAM (after a
# reboot the number may belong to another process)
stop_by_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$4" && kill "-$2" "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped $3"
  fi
  rm -f "$1"
}

# shellcheck source=scripts/lib/kafka.sh
source "$root/scripts/lib/kafka.sh"

create_database() { # create_database NAME, unless it exists
  if [ -z "$(psql -h "$PGHOST" -p "$PGPORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'")" ]; then
    log "creating database $1"
    createdb -h "$PGHOST" -p "$PGPORT" "$1"
  fi
}

start_bouncer() { # start_bouncer NAME PORT [DATABASE]: DATABASE (default NAME) under its own name
  local service=$1 port=$2 database=${3:-$1} dir built
  if answers "$port"; then
    log "pgbouncer for $service already answers on $port"
    return
  fi
  dir=$(own_dir pgbouncer postgres)
  # A copy beside its config: the tools directory may sit in a home the postgres user cannot enter.
  local binary=$dir/pgbouncer
  built=$(bash scripts/pgbouncer.sh)
  cmp -s "$built" "$binary" || cp "$built" "$binary"
  printf '"%s" ""\n' "$PGUSER" >"$dir/userlist.txt"
  DB_NAME=$database DB_HOST=$PGHOST DB_PORT=$PGPORT DB_USER=$PGUSER LISTEN_ADDR=127.0.0.1 LISTEN_PORT=$port \
    AUTH_FILE=$dir/userlist.txt LOGFILE=$dir/$service.log PIDFILE=$dir/$service.pid \
    sh scripts/lib/pgbouncer-ini.sh >"$dir/$service.ini"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  log "starting pgbouncer for $service on 127.0.0.1:$port"
  as_user postgres "$binary" -d -q "$dir/$service.ini"
  for _ in $(seq 50); do answers "$port" && return; sleep 0.1; done
  log "pgbouncer for $service did not start; its log:"
  tail -n 20 "$dir/$service.log" >&2 || true
  exit 1
}

stop_bouncer() { # stop_bouncer NAME: stops it at once (SIGQUIT; SIGTERM would wait for its clients)
  stop_by_pidfile "$state/pgbouncer/$1.pid" QUIT "pgbouncer $1" pgbouncer
}

case "${1:-}" in
  up)
    ensure_postgres
    for entry in "${bouncers[@]}"; do
      create_database "${entry%%:*}"
      start_bouncer "${entry%%:*}" "${entry##*:}"
    done
    log "applying migrations"
    # The build scripts/lib/services.sh makes (the same packages, so the same features): built once.
    cargo build --locked --quiet --bins -p product-service -p loms -p cart -p notifier
    CART_DATABASE_URL=postgres://$PGUSER@127.0.0.1:${bouncers[0]##*:}/cart target/debug/cart migrate
    LOMS_DATABASE_URL=postgres://$PGUSER@127.0.0.1:${bouncers[1]##*:}/loms target/debug/loms migrate
    NOTIFIER_DATABASE_URL=postgres://$PGUSER@127.0.0.1:${bouncers[2]##*:}/notifier target/debug/notifier migrate
    start_redis
    start_jaeger
    kafka_up
    log "development identity provider (just token): $(dev_identity)"
    log "up: cart via 127.0.0.1:${bouncers[0]##*:}, loms via 127.0.0.1:${bouncers[1]##*:}, notifier via 127.0.0.1:${bouncers[2]##*:}, Redis on $REDIS_PORT, Jaeger on ${stack_port[jaeger-ui]} (OTLP ${stack_port[otlp-grpc]}), Kafka on $(kafka_bootstrap) (files in $state)"
    ;;
  postgres)
    ensure_postgres
    ;;
  kafka)
    kafka_up
    ;;
  jaeger)
    start_jaeger
    ;;
  kafka-down)
    kafka_down
    ;;
  kafka-pid)
    [ $# -eq 2 ] || { echo "usage: $0 kafka-pid N" >&2; exit 2; }
    cat "$state/kafka/node$2.pid"
    ;;
  down)
    for entry in "${bouncers[@]}"; do stop_bouncer "${entry%%:*}"; done
    # Databases that failing tests left behind for a look (see storage::testing).
    if pg_up; then
      for db in $(psql -h "$PGHOST" -p "$PGPORT" -tAc "SELECT datname FROM pg_database WHERE datname ~ '^(cart|loms|notifier)_test_'"); do
        dropdb -h "$PGHOST" -p "$PGPORT" --force "$db" && log "dropped test database $db"
      done
    fi
    stop_own_postgres
    stop_by_pidfile "$state/redis/redis.pid" TERM Redis redis-server
    stop_by_pidfile "$state/jaeger/jaeger.pid" TERM Jaeger jaeger
    kafka_down
    ;;
  bouncer)
    [ $# -ge 3 ] || { echo "usage: $0 bouncer NAME PORT [DATABASE]" >&2; exit 2; }
    start_bouncer "$2" "$3" "${4:-$2}"
    ;;
  unbouncer)
    [ $# -eq 2 ] || { echo "usage: $0 unbouncer NAME" >&2; exit 2; }
    stop_bouncer "$2"
    ;;
  pause | resume)
    [ $# -eq 2 ] || { echo "usage: $0 $1 NAME" >&2; exit 2; }
    signal=STOP
    [ "$1" = resume ] && signal=CONT
    kill "-$signal" "$(cat "$state/pgbouncer/$2.pid")"
    ;;
  status)
    pg_up && echo "postgresql  up    $PGHOST:$PGPORT" || echo "postgresql  down  $PGHOST:$PGPORT"
    for entry in "${bouncers[@]}"; do
      if answers "${entry##*:}"; then s=up; else s=down; fi
      printf 'pgbouncer   %-5s 127.0.0.1:%s (%s)\n' "$s" "${entry##*:}" "${entry%%:*}"
    done
    answers "$REDIS_PORT" && echo "redis       up    127.0.0.1:$REDIS_PORT" || echo "redis       down  127.0.0.1:$REDIS_PORT"
    j=${stack_port[jaeger-ui]}
    answers "$j" && echo "jaeger      up    127.0.0.1:$j" || echo "jaeger      down  127.0.0.1:$j"
    kafka_status
    echo "files       $state"
    ;;
  *)
    echo "usage: $0 up|down|postgres|kafka|jaeger|kafka-down|kafka-pid N|status|bouncer NAME PORT [DATABASE]|unbouncer NAME|pause NAME|resume NAME" >&2
    exit 2
    ;;
esac
