# Route256: the recipes a developer and CI run. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# the tools that `just tools` installs land here
export PATH := env_var("HOME") + "/.cargo/bin:" + env_var("PATH")

# list the recipes
default:
    @just --list

# install the pinned tools (buf, just, grpcurl, protoc, cornucopia, third-party protos); idempotent
tools:
    bash scripts/tools.sh

# the PostgreSQL server cornucopia prepares the queries on (a throw-away database of it per run); when
# nothing answers there, `just gen` starts the stack's own (`scripts/stack.sh postgres`)
pg_admin_url := env_var_or_default("ROUTE256_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")

# regenerate every generated file: from the contract (format, lint, descriptor set, Rust code) and from
# the SQL (cornucopia prepares queries/<svc> against a fresh database built from migrations/<svc>)
gen:
    [ -n "${ROUTE256_PG_ADMIN_URL:-}" ] || bash scripts/stack.sh postgres
    buf format -w proto
    buf lint
    buf build -o crates/proto/descriptor.binpb
    buf generate
    protoc -I crates/gateway/testdata -I third_party/proto --include_imports --include_source_info \
        -o crates/gateway/testdata/gateway_test.binpb crates/gateway/testdata/gateway_test.proto
    for svc in cart loms notifier; do \
        cornucopia fresh --config queries/$svc/cornucopia.toml --url "{{pg_admin_url}}" migrations/$svc/*.sql; \
    done

# fail when `just gen` changed or added a file: generated code must match the contract and the SQL
gen-check: gen
    git diff --exit-code --stat -- proto crates/proto crates/cart-db crates/loms-db crates/notifier-db crates/gateway/testdata
    test -z "$(git status --porcelain --untracked-files=all -- proto crates/proto crates/cart-db crates/loms-db crates/notifier-db crates/gateway/testdata)"

# fail when the contract breaks compatibility with the previous commit's (skipped on the first commit)
breaking:
    bash scripts/breaking.sh

# start PostgreSQL (the machine's, else our own), a pgbouncer per service database, Redis (the machine's,
# else our own); apply migrations. A second `stack-up` changes nothing
stack-up:
    @command -v protoc >/dev/null || bash scripts/tools.sh
    bash scripts/stack.sh up

# stop what stack-up started: the pgbouncers, and PostgreSQL and Redis if they were its own
stack-down:
    bash scripts/stack.sh down

# apply the migrations to the databases of CART_DATABASE_URL, LOMS_DATABASE_URL and NOTIFIER_DATABASE_URL
migrate:
    cargo run --quiet --locked -p cart -- migrate
    cargo run --quiet --locked -p loms -- migrate
    cargo run --quiet --locked -p notifier -- migrate

# Ctrl-C stops the services; the stack's Kafka cluster, started if need be, keeps running.
# STORAGE=postgres runs them on the whole stack of `just stack-up`.
# build and start cart, loms, product-service and the notifier (and Kafka) on the default ports
run-all:
    @command -v protoc >/dev/null || bash scripts/tools.sh
    bash scripts/run-all.sh

# run every test: starts the stack the storage tests use (installing what is missing); every test of
# the workspace under coverage (`just cov`: the figures per crate, failing below the bars), the system
# tests once more on PostgreSQL (with cargo-nextest where installed, else cargo test), the pgbouncer
# outage check over the binaries, the order-event and shutdown fault tests (test-faults), then end to
# end over the binaries, `just run-all` as README.md shows it, schemathesis and the browser test.
# The PostgreSQL pass selects the whole workspace, as test-faults' build does, so that cargo resolves
# the same features and builds once; without nextest's filter it reruns every integration test, the
# few outside system-tests too.
test: stack-up && test-faults e2e test-run-all test-api test-browser
    bash scripts/coverage.sh
    if command -v cargo-nextest >/dev/null; then \
        ROUTE256_TEST_STORAGE=postgres cargo nextest run --workspace --locked --no-fail-fast -E 'package(system-tests)'; \
    else \
        ROUTE256_TEST_STORAGE=postgres cargo test --workspace --locked --no-fail-fast --test '*'; \
    fi
    bash scripts/e2e-postgres.sh

# every service's /openapi.json validated, and its HTTP gateway fuzzed against it by schemathesis
# (spare ports 28080-28091)
test-api:
    bash scripts/api-test.sh

# Swagger UI in headless Chromium: authorize, "Try it out" on cart's List, see the items
# (spare ports 38080-38091; screenshot in target/browser/)
test-browser:
    bash scripts/browser-test.sh

# order events through faults over the binaries `stack-up` built: loms and the notifier killed with
# SIGKILL, the busiest Kafka leader killed, the whole cluster down for 10 s (system-tests/tests/
# event_faults.rs); every service stopped by SIGTERM under the load generator's load and started again
# (shutdown.rs). They stop and start shared processes, so they run one at a time, after the rest
test-faults:
    cargo build --locked --quiet --bins -p product-service -p loms -p cart -p notifier
    cargo test --workspace --locked --test event_faults --test shutdown -- --ignored --test-threads=1

# line coverage (cargo-tarpaulin) per crate by the workspace's tests, and of the use-case modules by
# their crate's own unit tests; fails below 90 % (scripts/coverage.py says what is counted). The first
# pass of `just test`; alone it needs `just tools` once
cov: stack-up
    bash scripts/coverage.sh

# The grpcurl purchase flow, the notifier's lines for order 1, Ctrl-C stopping the services; on the
# default ports 8080-8093.
# `just run-all` checked as README.md shows it
test-run-all:
    bash scripts/run-all-check.sh

# end to end over the real binaries with grpcurl and curl (spare ports 18080-18091, 18183-18184)
e2e:
    bash scripts/e2e.sh

# mutation testing (cargo-mutants) of cart's, loms's and the notifier's domain, use cases, grpc, relay
# and adapters, each crate by its own tests; prints the score per crate and the survivors, fails below
# 90 %. Runs in a mirror under target/mutants (you can keep working); MUTANTS_ARGS=--iterate retries
# only what survived. Installs cargo-mutants on first use; about an hour on 2 cores
mutants *CRATES: stack-up
    bash scripts/mutants.sh {{CRATES}}

# OrderCreate throughput through gRPC → loms → pgbouncer → PostgreSQL beside pgbench, cart.List
# with the worker pool and the rate limiter, the HTTP gateway against gRPC, and order events: the relay
# against a bare producer, the latency from a change to its notification (see BENCHMARKS.md)
bench: stack-up
    bash scripts/bench.sh
    bash scripts/bench-list.sh
    bash scripts/bench-gateway.sh
    bash scripts/bench-events.sh

# the shopping flow under load: `just load --rate 500`, `just load --concurrency 64 --duration 60`
# (`just load --help`); memory storage, or STORAGE=postgres on the stack. Release builds on spare ports
# (base 48000), rate limits off; prints throughput, latency per RPC, failures by code and each
# service's idle and peak memory
load *ARGS:
    bash scripts/load.sh {{ARGS}}

# compose.yaml parses and is valid (Debian's docker-compose checks it without an engine)
compose-check:
    docker-compose -f compose.yaml config -q

# formatting and clippy, warnings as errors
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# the full check before a commit, and all that CI runs after `scripts/tools.sh`: codegen drift,
# compatibility, compose.yaml, formatting, lints, then every test
precommit: gen-check breaking compose-check lint test
