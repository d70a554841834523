# Every target creates and uses .venv; the stamp is rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n 2
TORCH ?= torch==2.13.0

.PHONY: install services demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build; the torch extra's range then installs nothing more
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL, Redis and Chromium, which the tests start themselves (installed with apt-get when run as root)
services:
	@tools/system-packages.sh test

demo: $(STAMP)
	$(BIN)/fti demo --keep fti-demo

# the suite runs with only loopback networking; a browser suite that cannot run fails instead of skipping
test: $(STAMP) services
	FTI_REQUIRE_BROWSER=1 tools/loopback-only.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; tools/loopback-only.sh $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache fti-demo
