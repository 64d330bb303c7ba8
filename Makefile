# One command to run the app, one to run the tests (see README.md).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NPMSTAMP := node_modules/.installed

.PHONY: setup run test lint clean bench bench-quick bench-setup

$(STAMP): pyproject.toml requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e '.[dev,otel]'
	touch $(STAMP)

$(NPMSTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPMSTAMP)

# The dashboard's browser tests drive Debian's Chromium (never Playwright's own download).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "The browser tests need Chromium: sudo apt-get install -y chromium" >&2; exit 1; \
	fi

setup: $(STAMP) $(NPMSTAMP)

# The benchmark's own environment (DBOS peer, matplotlib), kept out of the project's venv.
BENCHVENV := bench/.venv
BENCHSTAMP := $(BENCHVENV)/.installed

$(BENCHSTAMP): bench/requirements.txt
	$(PY) -m venv $(BENCHVENV)
	$(BENCHVENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $(BENCHSTAMP)

bench-setup: setup $(BENCHSTAMP)

# Writes bench/results/latest.json and docs/performance.md (several minutes: one step idles 60 s).
bench: bench-setup
	$(BIN)/python bench/run.py

bench-quick: bench-setup
	$(BIN)/python bench/run.py --quick

run: setup
	$(BIN)/python -m durable_host start --app-dir . --port 7071

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m durable_host lint .

test: lint $(CHROMIUM)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
