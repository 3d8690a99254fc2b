# The two commands: `make run` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080

.PHONY: run test test-python test-frontend test-e2e lint typecheck format setup frontend-build api-types services chromium bench clean

run: setup frontend-build
	@echo "Sign in as admin. First start: the password is printed below and kept in data/admin-password.txt (set DATAFLOW_ADMIN_PASSWORD to choose it)."
	$(BIN)/dataflow serve --host 127.0.0.1 --port $(PORT) --data-dir data --flowfiles flowfiles

test: setup frontend-build chromium services lint typecheck test-python test-frontend test-e2e

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend-build: frontend/node_modules/.installed
	cd frontend && npm run build

# The editor's API types from the OpenAPI document (checked in; tests/api/test_openapi.py
# fails when they are stale).
api-types: setup frontend/node_modules/.installed
	bash scripts/gen-api-types.sh

chromium:
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

services:
	@bash scripts/ensure-services.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy finds the packages under their import names through links (see [tool.mypy]).
typecheck: setup
	@mkdir -p build/typecheck
	@ln -sfn ../../backend/dataflow build/typecheck/dataflow
	@ln -sfn ../../processors build/typecheck/dataflow_processors
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# tests/api/test_openapi.py runs openapi-typescript from frontend/node_modules.
test-python: setup frontend/node_modules/.installed
	$(BIN)/pytest -q

test-frontend: frontend/node_modules/.installed
	cd frontend && npm test

test-e2e: setup frontend-build chromium
	$(BIN)/pytest -q e2e

bench: setup
	$(BIN)/python benchmarks/file_flow.py

clean:
	rm -rf data frontend/dist .pytest_cache .ruff_cache
