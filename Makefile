# driftloop: two commands on a fresh machine, `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# GX Data Docs' CSS, JS and fonts, vendored from npm (vendor/package-lock.json) at install time.
DATADOCS_ASSETS := driftloop/validation/datadocs_assets
export DRIFTLOOP_HOME ?= $(CURDIR)/.driftloop
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install datadocs-assets test test-fast demo up down bench lint lock clean

install: $(VENV)/.installed $(DATADOCS_ASSETS)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync -q --python $(BIN)/python --compile-bytecode requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps --compile-bytecode -e .
	touch $@

datadocs-assets: $(DATADOCS_ASSETS)/.installed

# The files GX's page templates would load from CDNs, copied from the same npm packages.
$(DATADOCS_ASSETS)/.installed: vendor/package.json vendor/package-lock.json \
		driftloop/validation/datadocs.py | $(VENV)/.installed
	cd vendor && npm ci --ignore-scripts --no-audit --no-fund
	$(BIN)/python -m driftloop.validation.datadocs vendor/node_modules $(DATADOCS_ASSETS)
	touch $@

lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

test: install
	$(BIN)/python -m pytest tests

test-fast: install
	$(BIN)/python -m pytest tests -m "not integration"

# The demo owns its home and starts from a clean slate each time. With DATA=table.csv
# TARGET=label [ID=column], it runs on that table instead of generated data.
demo: install
	DRIFTLOOP_HOME=$(CURDIR)/.driftloop/demo $(BIN)/driftloop demo --fresh \
		$(if $(DATA),--data "$(DATA)" --target "$(TARGET)") $(if $(ID),--id "$(ID)")

up: install
	$(BIN)/driftloop up

down: install
	$(BIN)/driftloop down

bench: install
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf .driftloop
