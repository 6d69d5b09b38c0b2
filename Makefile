# The two commands of the README: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch: whatever this platform gets, unless one is already installed (CI pins the CPU wheel first)
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch
	$(PIP) install --quiet -e ".[test,demo,bench]"
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m benchmarks

# JupyterLab on this machine only, on the quickstart notebook (its data ship with scikit-learn);
# as root (a container) JupyterLab refuses to start without --allow-root: given only then
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
demo: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) notebooks/01_quickstart.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
