# One image for every Route256 service; compose.yaml picks the binary per service.

FROM rust:1-bookworm AS build
# protoc: prost-validate-types compiles validate.proto in its build script. cmake, zlib and curl's
# headers: rdkafka builds its bundled librdkafka (linked statically; only libz is loaded at run time).
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
        cmake zlib1g-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cart -p loms -p product-service -p notifier -p identity \
    && mkdir -p /out \
    && cp target/release/cart target/release/loms target/release/product-service \
        target/release/notifier target/release/dev-idp /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home route256 \
    && mkdir /identity && chown route256 /identity
# /identity: the development identity provider's key pair (compose.yaml's volume takes its owner).
COPY --from=build /out/ /usr/local/bin/
USER route256
ENV RUST_LOG=info LOG_FORMAT=json

# pgbouncer for compose.yaml: Debian trixie ships 1.24.1 (transaction pooling with prepared statements
# needs >= 1.21). The entrypoint fills the stack's template (scripts/lib/pgbouncer.ini) from the
# environment; the files keep their places relative to each other.
FROM debian:trixie-slim AS pgbouncer
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/pgbouncer-entrypoint.sh /opt/route256/
COPY scripts/lib/pgbouncer.ini scripts/lib/pgbouncer-ini.sh /opt/route256/lib/
USER postgres
ENTRYPOINT ["/opt/route256/pgbouncer-entrypoint.sh"]
