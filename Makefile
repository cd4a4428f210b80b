# dxw: two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter's real path: uv recreates .venv when the same Python is named differently.
PYTHON ?= $(shell for p in python3.11 python3; do command -v $$p >/dev/null && $$p -c 'import sys; print(sys.executable)' && break; done)
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dxw-installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)
export UV_PYTHON := $(PYTHON)

CHROMIUM ?= /usr/bin/chromium
# The broker's binary: the one `make redis-server` checks is the one `dxw airflow up` starts.
REDIS_SERVER ?= $(or $(DXW_REDIS_SERVER),/usr/bin/redis-server)
.PHONY: help install demo test lint format manifest clean db-stop chromium redis-server airflow airflow-stop

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# uv is bootstrapped with pip into the interpreter when missing, and run as `python -m uv`.
# Bytecode is compiled at install: Airflow imports (and so every DAG file parse) take a third of
# the time when nothing has to be compiled at import, even where PYTHONDONTWRITEBYTECODE is set.
# pip puts uv's script where PATH may not look (pyenv shims are not rehashed), hence `python -m uv`.
UV := $(PYTHON) -m uv
$(STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/dxw manifest

install: $(STAMP) $(MANIFEST)  ## Create .venv from the lock file and parse the dbt project

demo: install  ## Run the whole pipeline on the bundled source simulator and show the results
	$(BIN)/dxw demo

# The Celery broker of `make airflow`: Debian's redis-server (a 2 MB package that installs in seconds
# everywhere apt works), rather than a wheel that compiles Redis from source at install time.
# Its own service is not used: dxw starts a redis-server of its own on 127.0.0.1 (DXW_REDIS_PORT).
airflow: install redis-server  ## Run the real deployment (Celery worker, scheduler, UI on 127.0.0.1)
	DXW_REDIS_SERVER=$(REDIS_SERVER) $(BIN)/dxw airflow up --show-password

airflow-stop:  ## Stop the deployment `make airflow` started
	@[ -x $(BIN)/dxw ] && $(BIN)/dxw airflow down || true

lint: install  ## ruff (lint + format check) and sqlfluff on the dbt SQL
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models dbt_project/tests dbt_project/macros

format: install  ## Format Python and fix SQL style
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/sqlfluff fix dbt_project/models dbt_project/tests

chromium:  ## Install Debian's chromium when missing (the tests render the HTML report headless)
	@if [ ! -x $(CHROMIUM) ]; then \
	  command -v apt-get >/dev/null || { echo "make chromium: $(CHROMIUM) is missing and there is no apt-get: install Chromium so that $(CHROMIUM) exists" >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo "sudo -n"); \
	  echo "Installing Debian's chromium with apt-get (headless rendering of the report in the tests) ..."; \
	  { $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >/dev/null \
	    || { echo "make chromium: apt-get could not install chromium (run as root, or install Chromium at $(CHROMIUM))" >&2; exit 1; }; \
	fi; \
	[ -x $(CHROMIUM) ] || { echo "make chromium: $(CHROMIUM) is still missing after apt-get install chromium" >&2; exit 1; }

redis-server:  ## Install Debian's redis-server when missing (the deployment's Celery broker)
	@if [ -n "$$DXW_CELERY_BROKER_URL" ]; then exit 0; fi; \
	if [ ! -x $(REDIS_SERVER) ]; then \
	  command -v apt-get >/dev/null || { echo "make redis-server: $(REDIS_SERVER) is missing and there is no apt-get: install Redis so that $(REDIS_SERVER) exists, or set DXW_CELERY_BROKER_URL" >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo "sudo -n"); \
	  echo "Installing Debian's redis-server with apt-get (the deployment's Celery broker) ..."; \
	  { $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; } >/dev/null \
	    || { echo "make redis-server: apt-get could not install redis-server (run as root, or install Redis at $(REDIS_SERVER))" >&2; exit 1; }; \
	fi; \
	[ -x $(REDIS_SERVER) ] || { echo "make redis-server: $(REDIS_SERVER) is still missing after apt-get install redis-server" >&2; exit 1; }

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
# One pytest process keeps about one of the 2 cores busy (dbt, PostgreSQL and Airflow mostly wait on
# each other), so the suite runs in TEST_WORKERS pytest-xdist workers, a test file each at a time
# (a module's fixtures build once), each with an embedded PostgreSQL of its own (tests/conftest.py).
# Against a configured server (DXW_DATABASE_URL), whose roles the workers would share, in one process.
TEST_WORKERS ?= $(if $(DXW_DATABASE_URL),0,2)
test: lint chromium redis-server  ## The whole test suite (lint, unit, integration, end-to-end) against real PostgreSQL
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

manifest: $(MANIFEST)  ## Parse the dbt project (the DAGs render from this manifest)

db-stop:  ## Stop the embedded PostgreSQL (and the test workers' own, which `make test` stops itself)
	@[ -x $(BIN)/dxw ] && $(BIN)/dxw db stop || true
	@for home in .dxw/test-workers/*/; do [ -x $(BIN)/dxw ] && [ -d "$$home" ] && DXW_HOME="$$home" $(BIN)/dxw db stop >/dev/null || true; done

clean: db-stop  ## Remove the environment, the embedded database and build output
	rm -rf $(VENV) .dxw dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
