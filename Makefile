# linkgraph: every target sets itself up; `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench bench-frontier bench-scaling bench-index bench-ingest clean

setup: $(STAMP)

# Re-install only when the dependency list changes, so repeated runs are a no-op.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/linkgraph demo

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check crawler pipelines tests benchmarks
	$(BIN)/mypy

# Benchmarks print figures and ratios and write JSON to benchmarks/results/.
bench: setup
	$(BIN)/python -m benchmarks

bench-frontier: setup
	$(BIN)/python -m benchmarks.frontier

bench-scaling: setup
	$(BIN)/python -m benchmarks.scaling

bench-index: setup
	$(BIN)/python -m benchmarks.index

bench-ingest: setup
	$(BIN)/python -m benchmarks.ingest

clean:
	rm -rf $(VENV) linkgraph-data
