# syntax=docker/dockerfile:1
# Production image for Trunkline: one image, `trunkline api` by default, `trunkline worker` for workers.
# Build: docker build -t trunkline .   (docker-compose.yml builds it for the api and worker services)
# The voice agent's image adds LiveKit Agents and its plugins:
#   docker build --build-arg EXTRAS='[agent]' -t trunkline-agent .   (then `trunkline agent`)

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its runtime dependencies into a virtualenv ---------------------
FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=""

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Exactly what pyproject.toml packages: the packages found under trunkline*, api*, workflows*,
# activities*, simulator* and the top-level module worker.py.
COPY pyproject.toml README.md ./
COPY trunkline ./trunkline
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY simulator ./simulator
COPY worker.py ./
# A regular (non-editable) install without the `test` extra; EXTRAS='[agent]' for the voice agent.
RUN pip install ".${EXTRAS}"

# --- runtime: the virtualenv only, run as an unprivileged user ---------------------------------------
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    TRUNKLINE_DATA_DIR=/var/lib/trunkline

RUN groupadd --system --gid 10001 trunkline \
    && useradd --system --uid 10001 --gid trunkline --home-dir /var/lib/trunkline \
        --create-home --shell /usr/sbin/nologin trunkline

COPY --from=build /opt/venv /opt/venv

USER trunkline:trunkline
WORKDIR /var/lib/trunkline

EXPOSE 8000
CMD ["trunkline", "api"]
