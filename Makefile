# Development entry points. Services (PostgreSQL, Redis, Kafka, SMTP) come from the
# environment/.env when they answer, else embedded ones are started by `python -m devstack`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: soak dashboard-picture docs-screenshot install translations extract update run test lint typecheck faults bench bench-steps mutation clean stop email-previews

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

$(VENV): $(STAMP)

install: $(STAMP)

translations: install
	$(BIN)/pybabel compile -d translations

extract: install
	$(BIN)/pybabel extract -F babel.cfg -o translations/messages.pot .

update: extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations

run: install translations
	$(BIN)/python -m devstack serve

test: install translations
	$(BIN)/python -m devstack run -- sh -c 'flask db init && pytest $(PYTEST_ARGS)'

lint: install typecheck
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_layering.py -k circle
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy payments web tasks outbox bridge ops devstack stripesim

faults: install translations
	$(BIN)/python -m devstack run -- sh -c 'flask db init && pytest tests/faults $(PYTEST_ARGS)'

$(VENV)/.bench-installed: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -e '.[dev,bench]'
	touch $@

# Not part of `make test`: about 9-10 minutes; writes bench/results.json and bench/results.md.
bench: install translations $(VENV)/.bench-installed
	@command -v wrk >/dev/null || echo "bench: wrk not installed (apt-get install wrk); the API phase uses the Python load generator"
	$(BIN)/python -m devstack run -- sh -c 'flask db init && python -m bench'

# Not part of CI: the pipeline for SOAK_MINUTES (30) at half the sustained rate, with SIGKILLs;
# writes bench/soak/soak.md, soak.json and soak.png (bench/soak.py lists the knobs).
soak: install translations $(VENV)/.bench-installed
	$(BIN)/python -m devstack run -- sh -c 'flask db init && python -m bench.soak'

# Not part of CI: docs/dashboard.png, the dashboard's panels' PromQL answered by a real
# Prometheus (apt-get install prometheus) over 5 minutes of mixed load (bench/dashboard.py).
dashboard-picture: install translations $(VENV)/.bench-installed
	$(BIN)/python -m devstack run -- sh -c 'flask db init && python -m bench.dashboard'

# Client CPU per payment, step by step, in one process (bench/steps.py); under a minute.
bench-steps: install translations
	$(BIN)/python -m devstack run -- sh -c 'flask db init && python -m bench.steps'

# Mutation testing of the money path (tool.mutmut in pyproject.toml); not part of `make test`.
mutation: install translations
	rm -rf mutants && mkdir -p .run
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/mutmut results > .run/mutation-results.txt || true
	@echo "survivors: .run/mutation-results.txt (see docs/testing.md for the ones left alive)"

# Screenshots of every e-mail in every language (needs Chromium), into docs/emails/.
email-previews: install translations
	$(BIN)/python -m devstack.email_previews

stop:
	-@[ -x $(BIN)/python ] && $(BIN)/python -m devstack stop

clean: stop
	rm -rf .run

# Redraw docs/api-reference.png (the /docs page) with Chromium after an API change.
docs-screenshot: install translations
	$(BIN)/python -m devstack.docs_screenshot
