# imagebot emulators of the Telegram Bot API (8081) and the Kie.ai API (8082): sandbox and tests only,
# never part of a production deployment. One image, two commands (see docker-compose.yml, profile sandbox).
# Build from the repository root (the context needs uv.lock and every workspace pyproject.toml):
#   docker build -f deploy/docker/emulators.Dockerfile -t imagebot/emulators:0.1.0 .
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
    uv sync --frozen --no-dev --no-install-workspace --package imagebot-emulators
# Layer 2, our code: imagebot-emulators, installed as regular (non-editable) packages,
# so the venv is self-contained and is all the runtime stage needs.
COPY emulators/src emulators/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package imagebot-emulators

# ---- runtime: the venv (which holds the source) on a clean slim image, as a non-root numeric user ----
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="imagebot-emulators" \
      org.opencontainers.image.description="imagebot sandbox: emulators of the Telegram Bot API and the Kie.ai API" \
      org.opencontainers.image.version="${VERSION}"
RUN groupadd --system --gid 10001 imagebot \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin imagebot
COPY --from=builder /app/.venv /app/.venv
WORKDIR /app
# EMULATOR_PORT is read only by the HEALTHCHECK; keep it equal to --port (docker-compose.yml sets both).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    EMULATOR_PORT=8081
USER 10001:10001
EXPOSE 8081 8082
STOPSIGNAL SIGTERM
# Both emulators serve GET /control/health.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/control/health' % os.environ.get('EMULATOR_PORT', '8081'), timeout=2)"]
# Exec form; the default command runs the Telegram emulator. The Kie.ai one:
#   docker run -e EMULATOR_PORT=8082 imagebot/emulators:0.1.0 imagebot_emulators.kie --host 0.0.0.0 --port 8082
ENTRYPOINT ["python", "-m"]
CMD ["imagebot_emulators.telegram", "--host", "0.0.0.0", "--port", "8081"]
