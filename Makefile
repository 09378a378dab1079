# The two commands of the README: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The main job: the watch daemon on the bundled example workspace (this checkout).
run: $(STAMP)
	$(BIN)/connector-watch watch --workspace .

## Every test: lint, the Python suite (spread over cores), then the editor extension
## (unit, integration, the panel in headless Chromium, the extension in a real code-server).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --dist loadfile tests
	bash editor-extension/scripts/ci.sh

## The quick loop: Python tests without servers, browsers or Spark.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check .
