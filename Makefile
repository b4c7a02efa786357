# Aftersales: `make run` serves the system on the embedded SQLite default, `make test` runs the suite.
# Both build the virtual environment from the locked dependencies on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-pg test-browser lint security format lock seed clean benchmarks messages

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	@mkdir -p var
	$(BIN)/aftersales migrate --noinput
	$(BIN)/aftersales seed --if-empty
	$(BIN)/aftersales demo_info --url http://$(HOST):$(PORT)/
	$(BIN)/aftersales serve $(HOST):$(PORT)

# The whole suite on SQLite; the browser tests run when Debian's chromium is installed.
test: $(STAMP)
	$(BIN)/pytest -n auto

# The same suite against PostgreSQL (DATABASE_URL), browser tests excluded, and what behaves
# alike on both engines and runs in `make test`: the access matrix (every role against every
# operation: ORM filters) and the figures of the full demo seed (a deterministic generator).
# On PostgreSQL they would add minutes to CI.
test-pg: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/pytest -n auto -m "not browser and not access_matrix and not seed_figures"

test-browser: $(STAMP)
	$(BIN)/pytest -n auto -m browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src/aftersales

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Security checks: Django's deployment checklist on the production settings (throwaway secrets),
# bandit over the source, and pip-audit over the locked dependencies (.ci/pip_audit fails on a
# known vulnerability and says loudly when the vulnerability database cannot be reached).
security: $(STAMP)
	BIN=$(BIN) .ci/check_deploy
	$(BIN)/bandit -r src -c pyproject.toml -q
	$(BIN)/python .ci/pip_audit requirements.lock

# Re-lock after editing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras -o requirements.lock pyproject.toml

messages: $(STAMP)
	cd src/aftersales && ../../$(BIN)/aftersales makemessages -l zh_Hans --no-obsolete && ../../$(BIN)/aftersales compilemessages -l zh_Hans

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/queue.py
	$(BIN)/python benchmarks/sla_sweep.py
	$(BIN)/python benchmarks/forecast_carparts.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
