# Production image of the payment service: one image, one process per container
# (api by default; worker, relay and bridge override the command in docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=web:create_app

WORKDIR /app

COPY pyproject.toml ./
COPY payments ./payments
COPY web ./web
COPY tasks ./tasks
COPY outbox ./outbox
COPY bridge ./bridge
COPY ops ./ops
COPY devstack ./devstack
COPY schema.sql babel.cfg ./
COPY translations ./translations
COPY .flaskenv gunicorn.conf.py ./

# Editable install: the code reads schema.sql and translations/ next to its packages.
RUN pip install -e . \
    && pybabel compile -d translations \
    && useradd --system --no-create-home --uid 10001 app

USER app
EXPOSE 5000

CMD ["gunicorn", "web:create_app()", "-b", "0.0.0.0:5000", "--access-logfile", "-"]
