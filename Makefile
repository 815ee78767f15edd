# Two commands do everything: `make run` serves the API, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint format venv elasticsearch bench bench-quick bench-kube

# The service runs from the checkout; `pip install -e .` only installs the `scale` client's entry point.
$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -e .
	touch $(STAMP)

venv: $(STAMP)

# Compiles the Elasticsearch launcher; Maven downloads (and caches in ~/.m2) Elastic's artifacts.
elasticsearch:
	scripts/elasticsearch build

run: venv elasticsearch
	scripts/run

test: venv elasticsearch
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

# ruff (lint and format), mypy, the import contracts of pyproject.toml, and every bench figure a README states
# held by a committed result (tools/check_bench_figures.py says how it decides).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python tools/check_bench_figures.py

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv elasticsearch
	$(VENV)/bin/python -m bench

bench-quick: venv elasticsearch
	$(VENV)/bin/python -m bench --quick

# The Kubernetes engine beside the local one (bench/kube_bench.py): needs the one-node cluster of
# scripts/kubernetes (started and stopped here when none runs), so it is not part of `make bench`.
bench-kube: venv elasticsearch
	$(VENV)/bin/python -m bench.kube_bench
