# syntax=docker/dockerfile:1
# One image for every component of the shop; the command picks the component:
#   docker run IMAGE run product-service --host 0.0.0.0
# Runs as uid 10001 and works with a read-only root filesystem: it writes only under /tmp (mount a volume there).
# Debian bookworm on purpose: its postgresql-client 15 matches the PostgreSQL 15 server the chart runs
# (pg_dump refuses to dump a newer server), which the backup and restore Jobs use.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
RUN python -m venv /opt/venv
# Every runtime package is locked in requirements.lock (direct and transitive); installing them before copying the
# sources keeps this layer cached while only the code changes.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md* ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf '{}' + \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM python:3.11-slim-bookworm AS runtime
ARG VERSION=1.0.0
LABEL org.opencontainers.image.title="ecommerce-microservices" \
      org.opencontainers.image.description="The online shop's ten components in one image" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# wget: the manual's troubleshooting (kubectl exec POD -- wget -O- http://service-discovery:8761/eureka/) and
# the preStop hook; postgresql-client: pg_dump/pg_restore for `ecommerce db backup|restore`.
# Versions come from the pinned Debian release; security updates must not break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 ecommerce \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin ecommerce
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config-repo ./config-repo
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    ECOMMERCE_DATA_DIR=/tmp/data \
    ECOMMERCE_HEALTH_PORT=8500
USER 10001:10001
EXPOSE 8080 8300 8400 8500 8600 8700 8761 8800 8900 9296
# Every component answers /actuator/health/liveness at the root; docker-compose sets ECOMMERCE_HEALTH_PORT per
# service (Kubernetes uses its own probes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "wget -q -T 4 -O /dev/null http://127.0.0.1:${ECOMMERCE_HEALTH_PORT}/actuator/health/liveness"]
ENTRYPOINT ["ecommerce"]
CMD ["run", "product-service", "--host", "0.0.0.0"]
