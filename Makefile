PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= data/demo

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"

demo: install
	$(VENV)/bin/simfactory scene=furniture num_clips=3 resolution=[256,144] frames=24 seed=7 output_dir=$(DEMO_DIR)

test: install
	$(VENV)/bin/ruff check sim scenes tests benchmarks
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff format sim scenes tests benchmarks
	$(VENV)/bin/ruff check --fix sim scenes tests benchmarks

bench: install
	$(PY) benchmarks/bench_clip.py

clean:
	rm -rf $(VENV) data build *.egg-info
