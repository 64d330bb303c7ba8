# One command to run the app, one to run the tests (see README.md).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NPMSTAMP := node_modules/.installed

.PHONY: setup run test lint clean bench bench-quick bench-report bench-setup test-py soak soak-short

$(STAMP): pyproject.toml requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -e '.[dev,otel]'
	touch $(STAMP)

# npm ci runs the postinstall script, which applies durable_host/server/patches (patch-package);
# a changed patch re-installs, so node_modules never holds a stale one.
$(NPMSTAMP): package.json package-lock.json $(wildcard durable_host/server/patches/*.patch)
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

# docs/performance.md and its plots again from bench/results/latest.json, without a new run.
bench-report: bench-setup
	$(BENCHVENV)/bin/python bench/report.py bench/results/latest.json

# The chaos soak (bench/soak.py, docs/reliability.md): three hosts on one hub, faults of every
# kind, every result checked; then its plot and table (bench/soak_report.py, in bench/.venv),
# drawn for a failing run too (the make still fails).
#   make soak                                  60 minutes, seed 1
#   make soak SOAK_MINUTES=30 SOAK_SEED=2
# soak-short is the 2-minute one .ci/run runs (no plot, no bench venv).
SOAK_MINUTES ?= 60
SOAK_SEED    ?= 1
SOAK_OUT     ?= bench/results/soak-$(SOAK_SEED)-$(SOAK_MINUTES)min

soak: bench-setup
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) --seed $(SOAK_SEED) --out $(SOAK_OUT); \
	status=$$?; \
	$(BENCHVENV)/bin/python bench/soak_report.py $(SOAK_OUT)/soak.json; \
	exit $$status

soak-short: setup
	$(BIN)/python bench/soak.py --minutes 2 --seed 7 --out bench/results/soak-short

run: setup
	$(BIN)/python -m durable_host start --app-dir . --port 7071

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m durable_host lint .

# With the coverage of durable_host (pytest-cov prints "Total coverage: N%"; pyproject's
# tool.coverage.report fail_under fails the run below it). The subsets of test-py run without.
test: lint $(CHROMIUM)
	$(BIN)/python -m pytest -q --cov --cov-report=

# The suite on another Python (Azure Functions runs 3.10-3.13), in its own venv .venv<major><minor>:
#   make test-py PYVER=3.13             the fast subset below (.ci/run adds it on 3.10 and 3.13,
#                                       the oldest and newest Python the package supports)
#   make test-py PYVER=3.12 SUITE=tests the whole suite
# The interpreter is pyenv's newest <PYVER>.x, else python<PYVER> on PATH.
PYVER   ?= 3.13
PYX     ?= $(shell ls -d $(HOME)/.pyenv/versions/$(PYVER).*/bin/python$(PYVER) 2>/dev/null | tail -1 | grep . || command -v python$(PYVER))
XVENV   := .venv$(subst .,,$(PYVER))
# tests/v2 runs the 2.x-style app, whose worker (durabletask-azurefunctions) the dev extra
# installs on 3.13 only: named on the command line, it would be collected on older Pythons too.
SUITE   ?= tests/taskhub tests/functions tests/sample_app tests/patterns tests/e2e/test_patterns.py \
           tests/protobuf tests/engine/replay $(if $(filter 3.13,$(PYVER)),tests/v2)

$(XVENV)/.installed: pyproject.toml requirements.txt
	@test -n "$(PYX)" || { echo "No python$(PYVER) on PATH or in ~/.pyenv/versions; set PYX=/path/to/python$(PYVER)"; exit 1; }
	$(PYX) -m venv $(XVENV)
	$(XVENV)/bin/pip install --quiet --upgrade pip
	$(XVENV)/bin/pip install --quiet -r requirements.txt -e '.[dev,otel]'
	touch $@

test-py: $(XVENV)/.installed $(NPMSTAMP)
	$(XVENV)/bin/python -m pytest -q $(SUITE)

clean:
	rm -rf $(VENV) .venv3[0-9]* node_modules .azurite .pytest_cache .mypy_cache .ruff_cache \
		.coverage .coverage.*
