# linkgraph: every target sets itself up; `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint bench bench-frontier bench-scaling bench-index bench-ingest bench-handoff clean

setup: $(STAMP)

# Re-install only when the dependency list changes, so repeated runs are a no-op.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/linkgraph demo

test: setup system-deps
	$(BIN)/python -m pytest -q

# What the tests drive beyond Python: Debian's headless Chromium (tests/test_dashboard.py) and
# iproute2's `ip` for network namespaces (tests/test_multihost.py). Installed only when missing.
system-deps:
	@command -v ip >/dev/null && test -x /usr/bin/chromium || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq >/dev/null && apt-get install -y -qq chromium iproute2 >/dev/null; }

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

bench-handoff: setup
	$(BIN)/python -m benchmarks.handoff

clean:
	rm -rf $(VENV) linkgraph-data
