PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= data/demo

.PHONY: install install-browser install-llvm demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e ".[test]"

# Chromium for the gallery's browser test (Debian's package; we run as root with apt).
install-browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium could not be installed: the gallery browser test will be skipped"

# libLLVM 19 for Mitsuba's CPU backend (Debian 12's LLVM 14/15 make it abort); root only.
install-llvm:
	@ls /usr/lib/*/libLLVM-19.so >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    apt-get update -qq && apt-get install -y -qq libllvm19 >/dev/null; } || \
	  echo "libllvm19 could not be installed: the path tracer tests will be skipped"

demo: install
	$(VENV)/bin/simfactory scene=furniture num_clips=3 resolution=[256,144] frames=24 seed=7 output_dir=$(DEMO_DIR)
	$(VENV)/bin/simfactory-export gallery $(DEMO_DIR) --overwrite

test: install install-browser install-llvm
	$(VENV)/bin/ruff check sim scenes tests benchmarks
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff format sim scenes tests benchmarks
	$(VENV)/bin/ruff check --fix sim scenes tests benchmarks

bench: install
	$(PY) benchmarks/bench_clip.py

clean:
	rm -rf $(VENV) data build *.egg-info
