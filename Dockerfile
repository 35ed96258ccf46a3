# The Pixie image used by compose.yaml: the locked dependencies, then the project.
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.8 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    PATH="/app/.venv/bin:$PATH" PIXIE_DATA_DIR=/data PYTHONUNBUFFERED=1
WORKDIR /app

COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY bots bots
COPY connectors connectors
COPY core core
COPY db db
COPY jobs jobs
RUN uv sync --frozen --no-dev \
    && useradd --system --create-home pixie && mkdir -p /data && chown pixie /data
USER pixie
VOLUME /data

CMD ["pixie", "run"]
