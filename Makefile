# Bullseye — every command a developer, CI or a load tester needs.
# Only python3.11 and make are assumed; `make setup` installs the rest into .venv
# from the lock file (uv.lock) with a pinned uv.

SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := .uv/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
export UV_PROJECT_ENVIRONMENT := .venv
BENCH ?=
ARGS ?=

.PHONY: setup lock protos lint test test-fast bench demo up down status migrate clean

setup: .venv/.synced libs/proto/src/bullseye/events/v1/event_pb2.py

$(UV):
	python3.11 -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	touch $@

# The lock file is committed; re-resolve it on purpose only, after editing dependencies.
lock: $(UV)
	$(UV) lock

libs/proto/src/bullseye/events/v1/event_pb2.py: $(shell find protos -name '*.proto') libs/proto/generate.py | .venv/.synced
	$(PY) libs/proto/generate.py

protos: .venv/.synced
	$(PY) libs/proto/generate.py

lint: setup
	.venv/bin/buf lint .data/build/bullseye.binpb --config protos/buf.yaml --exclude-path google
	.venv/bin/ruff check libs services tests
	.venv/bin/ruff format --check libs services tests
	.venv/bin/mypy -p bullseye_platform -p bullseye_devtools -p bullseye_ingestion -p bullseye_identity -p bullseye_profile -p bullseye_campaign -p bullseye_recommendation

# Two workers, one per core of the CI machine: most tests wait on real servers and processes,
# so two overlap well. --dist loadfile keeps a file on one worker: a module's stack starts once.
# TEST_WORKERS=0 runs in this process (a debugger, -s).
TEST_WORKERS ?= 2

test: setup
	.venv/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

bench: setup
	$(PY) -m bullseye_devtools.bench $(if $(BENCH),--only $(BENCH)) $(ARGS)

demo: setup
	$(PY) -m bullseye_devtools.demo $(ARGS)

up: setup
	$(PY) -m bullseye_devtools.stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m bullseye_devtools.stack down; fi

status: setup
	$(PY) -m bullseye_devtools.stack status

clean: down
	rm -rf .venv .uv .data libs/proto/src/bullseye/*/ bench-results.json reports
