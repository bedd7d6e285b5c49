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

# Every download is checked against the locks' hashes; the project itself, installed from this
# folder, is not a download and comes after, without dependencies.
$(VENV)/.installed: requirements.lock requirements-uv.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r requirements-uv.lock
	$(BIN)/uv pip sync -q --python $(BIN)/python --require-hashes --compile-bytecode requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps --compile-bytecode -e .
	touch $@

datadocs-assets: $(DATADOCS_ASSETS)/.installed

# The files GX's page templates would load from CDNs, copied from the same npm packages.
$(DATADOCS_ASSETS)/.installed: vendor/package.json vendor/package-lock.json \
		driftloop/validation/datadocs.py | $(VENV)/.installed
	cd vendor && npm ci --ignore-scripts --no-audit --no-fund
	$(BIN)/python -m driftloop.validation.datadocs vendor/node_modules $(DATADOCS_ASSETS)
	touch $@

# requirements.lock: what `make install` and the tests run with (the dev extra included).
# requirements-runtime.lock: what the image runs, the same versions without the dev extra but
# with the dask extra (the image's Dask scheduler and workers, and the dask training engine).
# requirements-uv.lock: uv itself, for `make install` and the image.
lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 --generate-hashes \
		-o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra dask --python-version 3.11 --generate-hashes \
		-c requirements.lock -o requirements-runtime.lock
	echo "uv==$(UV_VERSION)" | $(BIN)/uv pip compile -q - --python-version 3.11 --generate-hashes \
		-o requirements-uv.lock

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

# The serving benchmark loads the servers with wrk (a C client: a Python one saturates first).
bench: install
	command -v wrk >/dev/null 2>&1 || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
	$(BIN)/python -m benchmarks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf .driftloop
