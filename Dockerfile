# tollgate container image.
#
#   docker build -t tollgate .
#   docker run -d -p 9000:9000 -v tollgate-data:/data \
#       -e TOLLGATE_ROOT_ACCESS_KEY=... -e TOLLGATE_ROOT_SECRET_KEY=... tollgate
#
# Configuration: environment variables (TOLLGATE_*, see conf/tollgate.toml), or a file mounted
# over /etc/tollgate/tollgate.toml (the image's own, conf/container.toml, only asks for JSON logs).
# compat/container.sh builds and checks this image as the README runs it.

# ---- build -------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY benches/loadgen/Cargo.toml benches/loadgen/Cargo.toml
RUN mkdir -p src benches/loadgen/src \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/loadgen/src/main.rs \
    && cargo build --release --locked --bin tollgate \
    && rm -rf src benches/loadgen/src
COPY src src
COPY benches/loadgen/src benches/loadgen/src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin tollgate \
    && strip target/release/tollgate

# ---- run ---------------------------------------------------------------------
FROM debian:bookworm-slim
# CA roots for HTTPS upstreams (backend = "upstream").
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin tollgate \
    && mkdir -p /data /etc/tollgate && chown tollgate:tollgate /data
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
COPY conf/tollgate.toml /etc/tollgate/tollgate.example.toml
COPY conf/container.toml /etc/tollgate/tollgate.toml
USER tollgate
ENV TOLLGATE_CONFIG=/etc/tollgate/tollgate.toml \
    TOLLGATE_LISTEN=0.0.0.0:9000 \
    TOLLGATE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 9000
HEALTHCHECK --interval=15s --timeout=6s --start-period=10s --retries=3 \
    CMD ["tollgate", "probe", "--addr", "127.0.0.1:9000"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tollgate"]
CMD ["serve"]
