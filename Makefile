# supportloop — the two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export TOKENIZERS_PARALLELISM := false

.PHONY: run test install install-test lint db demo bench clean postgres chromium

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

## make run: install, create + migrate the database, queue the demo load if the database is empty,
## start the dashboard, API and job runner at once (the demo loads as a job behind them; the
## demo admin's login is printed last; the demo business's names and cities go to
## SUPPORTLOOP_PII_ALLOW_TERMS unless it is set)
run: export SUPPORTLOOP_PII_ALLOW_TERMS ?= $(shell $(BIN)/python -c \
	'from core.demo.business import PII_ALLOW_TERMS; print(PII_ALLOW_TERMS)')
run: install
	$(BIN)/supportloop db upgrade
	$(BIN)/supportloop demo --if-empty --queue
	$(BIN)/supportloop serve --ensure-demo-admin

## make test: install what the tests need and run the whole suite (SQLite and PostgreSQL)
test: install-test postgres chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

chromium:
	@bash scripts/ensure-chromium.sh

postgres:
	@bash scripts/ensure-postgres.sh

lint: install-test
	$(BIN)/ruff check .

bench: install-test
	$(BIN)/python -m bench.pii
	$(BIN)/python -m bench.pii_check
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.metrics
	$(BIN)/python -m bench.enrich
	$(BIN)/python -m bench.datasets
	$(BIN)/python -m bench.experiments
	$(BIN)/python -m bench.feedback_load
	$(BIN)/python -m bench.flood
	$(BIN)/python -m bench.first_run
	$(BIN)/python -m bench.background
	$(BIN)/python -m bench.live_truth

clean:
	rm -rf $(VENV) var

.PHONY: bench-learning
## make bench-learning: the self-learning benchmark on BANKING77 (about 30 minutes on 2 cores; docs/learning_curve.md)
bench-learning: install-test
	$(BIN)/python -m bench.learning_curve
