# Gridline: `make run` to start the demo, `make test` to run the suite. Both install what is missing.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000
export PORT

.PHONY: bootstrap run stop test lint bench

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py collectstatic --noinput -v0
	@$(PY) manage.py load_demo --if-empty
	@scripts/serve.sh start

stop:
	@scripts/serve.sh stop

test: bootstrap
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@$(PY) -m pytest

lint: bootstrap
	@.venv/bin/ruff check .

bench: bootstrap
	@BOOTSTRAP_EXTRA="wrk" scripts/bootstrap.sh
	@$(PY) bench/nearest_stations.py
	@$(PY) bench/layers_io.py
	@$(PY) bench/tiles.py
	@$(PY) bench/console.py
	@$(PY) bench/vision.py
