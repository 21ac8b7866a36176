# imagebot dispatcher: per-chat ordered aiogram conversations fed from JetStream (probes and metrics on HEALTH_PORT 10001).
# Build from the repository root (the context needs uv.lock and every workspace pyproject.toml):
#   docker build -f deploy/docker/dispatcher.Dockerfile -t imagebot/dispatcher:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- builder: uv (from PyPI) installs this member and only its locked dependencies into /app/.venv ----
FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_BUILD_CONSTRAINT=/app/deploy/docker/build-constraints.txt
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Layer 1, the third-party dependencies: rebuilt only when uv.lock or a pyproject.toml changes.
# uv needs every workspace member's pyproject.toml to read the workspace, not their sources.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/dispatcher/pyproject.toml services/dispatcher/
COPY services/imagegen/pyproject.toml services/imagegen/
COPY emulators/pyproject.toml emulators/
COPY deploy/docker/build-constraints.txt deploy/docker/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package imagebot-dispatcher
# Layer 2, our code: imagebot-common and imagebot-dispatcher, installed as regular (non-editable) packages,
# so the venv is self-contained and is all the runtime stage needs.
COPY libs/common/src libs/common/src
COPY services/dispatcher/src services/dispatcher/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package imagebot-dispatcher

# ---- runtime: the venv (which holds the source) on a clean slim image, as a non-root numeric user ----
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="imagebot-dispatcher" \
      org.opencontainers.image.description="imagebot dispatcher: aiogram conversations fed from NATS JetStream" \
      org.opencontainers.image.version="${VERSION}"
RUN groupadd --system --gid 10001 imagebot \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin imagebot
COPY --from=builder /app/.venv /app/.venv
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTH_PORT=10001
USER 10001:10001
EXPOSE 10001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '10001'), timeout=2)"]
# Exec form: python is PID 1 and receives SIGTERM itself, then drains (the services handle SIGTERM).
ENTRYPOINT ["python", "-m", "imagebot_dispatcher"]
