# syntax=docker/dockerfile:1
#
# Gantry's container image: a release build of the `gantry` binary on Debian bookworm, run as an unprivileged
# user. Build with `docker build -t gantry .` (or through docker-compose.yml).
#
# The build context must hold `migrations/` and `config/`: `sqlx::migrate!` and `include_str!` embed them into
# the binary at compile time, so the runtime image carries no SQL or TOML files.

# ---- builder -------------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /app

# 1. Dependencies only. The workspace manifests and the lock file, with placeholder sources for the two crates
#    (`gantry` and its member `gantry-actors`), so this layer — the slow one — is rebuilt only when a manifest or
#    Cargo.lock changes, not on every source edit. No tests, examples or benches are copied: cargo only
#    auto-discovers those, so their absence is fine. If Cargo.toml ever names such a target explicitly
#    (`[[bench]]`, `[[example]]`, `[[test]]`), add a placeholder file for it here.
COPY Cargo.toml Cargo.lock build.rs ./
COPY actors/Cargo.toml actors/Cargo.toml
RUN mkdir -p src actors/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs actors/src/lib.rs \
    && cargo build --release --locked --bin gantry \
    && rm -rf src actors/src

# 2. The real sources, and what they embed at compile time. There is no `.git` here: pass the commit for
#    `gantry_build_info{commit}` with `--build-arg GANTRY_BUILD_COMMIT=$(git rev-parse --short=12 HEAD)`
#    (otherwise it reads `unknown`).
ARG GANTRY_BUILD_COMMIT=unknown
ENV GANTRY_BUILD_COMMIT=${GANTRY_BUILD_COMMIT}
COPY src src
COPY actors/src actors/src
COPY config config
COPY migrations migrations
# The OpenAPI documents are embedded (include_str!, src/gateway/openapi.rs) and served at /openapi.json.
COPY openapi openapi
# The console's files are embedded (include_bytes!, src/gateway/console.rs), the form preview's runtime from
# clients/js/src.
COPY console console
COPY clients/js/src clients/js/src
# COPY keeps the files' own modification times, which may be older than the placeholder build above; cargo would
# then consider the placeholder crates fresh and ship an empty binary. Touching the crate roots forces both local
# crates to rebuild (the dependencies stay cached).
RUN touch src/main.rs src/lib.rs actors/src/lib.rs \
    && cargo build --release --locked --bin gantry \
    && cp target/release/gantry /usr/local/bin/gantry

# ---- runtime -------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# ca-certificates: TLS to Postgres, S3 and RabbitMQ outside the compose network (rustls reads the system roots).
# curl: the HEALTHCHECK below only (the image has no shell tools for HTTP otherwise).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid (10001) so operators can give secret files and volumes to this user from the host
# (`chown 10001 …`); see secrets/README.md.
RUN groupadd --system --gid 10001 gantry \
    && useradd --system --uid 10001 --gid gantry --home-dir /data --no-create-home --shell /usr/sbin/nologin gantry \
    && mkdir -p /data /etc/gantry \
    && chown gantry:gantry /data

COPY --from=builder /usr/local/bin/gantry /usr/local/bin/gantry

# The local profile keeps its SQLite file, objects and generated secrets in GANTRY_DATA_DIR; the production
# profile does not write there. Both listeners bind every interface *inside* the container (the defaults,
# 127.0.0.1, would be unreachable from outside it); whether the admin port leaves the host is decided where the
# container is run — never publish 9090 publicly. Optional TOML overlays (`default.toml`, `<profile>.toml`) are
# read from GANTRY_CONFIG_DIR, e.g. a read-only mount of /etc/gantry.
ENV GANTRY_DATA_DIR=/data \
    GANTRY_CONFIG_DIR=/etc/gantry \
    GANTRY_HTTP_ADDR=0.0.0.0:8080 \
    GANTRY_ADMIN_ADDR=0.0.0.0:9090

WORKDIR /data
VOLUME ["/data"]
USER gantry:gantry

# 8080: public API (/healthz, /readyz, /v1/…). 9090: admin listener (/metrics, /admin/…), private.
EXPOSE 8080 9090

# Liveness only (`/healthz` never touches a backend): a dependency outage must not mark the container unhealthy.
# Readiness (`/readyz`) is for load balancers. Assumes the public listener stays on port 8080.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "--output", "/dev/null", \
         "http://127.0.0.1:8080/healthz"]

# SIGTERM (docker stop) starts the graceful shutdown, all within one budget, `http.shutdown_grace_secs` (20 s):
# stop accepting, drain HTTP, let a running rotation finish, stop the actors; then close the bus and pools. Give
# the container a little more than the budget to stop.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["serve"]
