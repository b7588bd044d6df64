# Production image of the payment service: one image, one process per container (api by
# default; the worker and gateway pools, the relay and the bridge override the command, as
# the Procfile and deploy/k8s do).
#
# Two stages: `build` compiles the translations and builds the wheel of the service's own
# packages; the runtime stage installs that wheel (no editable install, no compiler, no dev
# tooling: devstack, the tests and the bench are not in it) into a virtual environment and
# runs as an unprivileged user. schema.sql and translations/ sit in /app, where
# PAYMENTS_DATA_DIR points the installed code.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN pip install "build==1.2.2" "babel==2.16.0"
COPY pyproject.toml ./
COPY payments ./payments
COPY web ./web
COPY tasks ./tasks
COPY outbox ./outbox
COPY bridge ./bridge
COPY ops ./ops
COPY stripesim ./stripesim
COPY translations ./translations
RUN pybabel compile -d translations \
    && python -m build --wheel --outdir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PAYMENTS_DATA_DIR=/app \
    FLASK_APP=web:create_app
COPY --from=build /dist /dist
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install /dist/*.whl \
    && rm -rf /dist \
    && useradd --system --no-create-home --uid 10001 app
WORKDIR /app
COPY --from=build /src/translations ./translations
COPY schema.sql gunicorn.conf.py .flaskenv ./
USER 10001
EXPOSE 5000
CMD ["gunicorn", "web:create_app()", "-c", "gunicorn.conf.py", "-b", "0.0.0.0:5000"]
