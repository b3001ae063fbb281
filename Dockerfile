# syntax=docker/dockerfile:1
#
# gproxy's container image (docs/deployment.md):
#   docker build -t gproxy .
#   docker run -p 8787:8787 -v gproxy-data:/app/data gproxy
#
# Three stages: the web console is built once with Node; Rust builds the
# dependencies in a layer of their own (cargo-chef: cached until Cargo.lock
# or a manifest changes), then gproxy with that console embedded
# (GPROXY_UI_DIST, so gproxy-ui's build script does not build it again);
# the runtime image is distroless (glibc, CA certificates, no shell) and
# runs as a non-root user. Configured by GPROXY_* environment variables
# only (docs/configuration.md).

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20
ARG CARGO_CHEF_VERSION=0.1.78

# --- The web console (frontend/) -----------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build -- --outDir /ui-dist --emptyOutDir

# --- Rust toolchain with cargo-chef ---------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe: every manifest and the lock file, nothing else.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# .cargo/config.toml sets jemalloc's build-time options: the dependency
# layer must see it, or the final build compiles jemalloc again.
COPY .cargo/ .cargo/
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --package gproxy --recipe-path recipe.json
COPY . .
COPY --from=ui /ui-dist /ui-dist
ENV GPROXY_UI_DIST=/ui-dist
# The release profile keeps line tables (for profiling); the image drops
# them and keeps the symbols, so backtraces still name functions: 38 MB
# instead of 141 MB.
RUN cargo build --release --locked --package gproxy \
    && strip --strip-debug target/release/gproxy \
    && install -D -m 0755 target/release/gproxy /out/usr/local/bin/gproxy \
    && install -d -m 0750 /out/app/data

# --- Runtime ----------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/usr/local/bin/gproxy /usr/local/bin/gproxy
# Owned by the image's non-root user (65532), so a new named volume mounted
# here is writable. A bind mount needs `chown 65532:65532` on the host.
COPY --from=builder --chown=65532:65532 /out/app/data /app/data
WORKDIR /app
ENV GPROXY_HOST=0.0.0.0 \
    GPROXY_PORT=8787 \
    GPROXY_DATA_DIR=/app/data
USER 65532:65532
VOLUME ["/app/data"]
EXPOSE 8787
# `gproxy healthcheck` asks GET /health on GPROXY_HOST/GPROXY_PORT (the
# image has no curl); it exits 0 on a 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/gproxy", "healthcheck", "--timeout-secs", "4"]
ENTRYPOINT ["/usr/local/bin/gproxy"]
