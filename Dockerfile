# syntax=docker/dockerfile:1
# icat-gateway for production: `docker build -t icat-gateway .`, then see compose.yaml.
#
# Three stages: GraphiQL's browser files from npm (exact versions from the lock file), the
# gateway and its dependencies installed into a virtual environment, and a slim runtime
# image with only that environment, run by an unprivileged user.

FROM node:20-bookworm-slim AS graphiql
WORKDIR /build/assets/graphiql
COPY assets/graphiql/package.json assets/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/icat-gateway
ENV PATH=/opt/icat-gateway/bin:$PATH
WORKDIR /src
# Dependencies first, in a layer of their own that a change of the code does not rebuild:
# exactly the versions and hashes of requirements/serve.lock (scripts/lock).
COPY requirements/serve.lock requirements/serve.lock
RUN pip install --require-hashes --no-deps -r requirements/serve.lock
COPY pyproject.toml README.md LICENSE ./
COPY gateway gateway
COPY --from=graphiql /build/assets/graphiql/node_modules assets/graphiql/node_modules
# GraphiQL's files into gateway/graphiql/static/, then the package with them.
RUN python -m gateway.graphiql.assets && pip install --no-deps . && rm -rf /src

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin gateway
COPY --from=build /opt/icat-gateway /opt/icat-gateway
# Production by default: no demo logins, no GraphiQL (ICAT_GATEWAY_GRAPHIQL=true to serve
# it: its files are in the image), an existing ICAT database (ICAT_GATEWAY_DATABASE_URL,
# required), JSON logs, two workers whose metrics add up in PROMETHEUS_MULTIPROC_DIR.
ENV PATH=/opt/icat-gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ICAT_GATEWAY_PRODUCTION=true \
    ICAT_GATEWAY_EMBEDDED=false \
    ICAT_GATEWAY_GRAPHIQL=false \
    ICAT_GATEWAY_LOG_FORMAT=json \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/icat-gateway-metrics
USER gateway
WORKDIR /tmp
EXPOSE 8000
# Alive, not ready: an orchestrator restarts a gateway that stops answering, while /readyz
# (database and Redis) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# SIGTERM: uvicorn stops accepting and lets in-flight requests finish
# (ICAT_GATEWAY_SHUTDOWN_TIMEOUT seconds; keep docker's stop timeout above it).
STOPSIGNAL SIGTERM
CMD ["icat-gateway", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-demo"]
