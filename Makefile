# The README's commands. `make run` starts Seatwise; `make test` runs every check.
PYTHON ?= $(shell command -v python3.12 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint format pytest chromium clean bench chaos

# .python-version asks pyenv for Python 3.12 (3.11.7 crashes under threads: docs/known-defects.md);
# a virtualenv made by an older Python is made again.
$(STAMP): pyproject.toml .python-version
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || rm -rf $(VENV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

# Browser tests drive Debian's Chromium; Playwright never downloads a browser here.
chromium:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP) chromium
	$(BIN)/pytest

test: lint pytest

# The chaos run (issue 16): 1,000 operations under faults and killed workers; prints its
# figures. Not part of `make pytest` (a few minutes); CI runs it on PostgreSQL and Redis.
chaos: $(STAMP)
	$(BIN)/pytest -m chaos tests/reliability -s

# Benchmarks (issue 9): each adds its results to bench/BENCHMARKS.md; under 10 minutes.
bench: $(STAMP)
	$(BIN)/python -m bench.planner
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.pages --seconds 20
	$(BIN)/python -m bench.changes
	$(BIN)/python -m bench.adjustment --customers 400
	$(BIN)/python -m bench.load --seconds 60

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
