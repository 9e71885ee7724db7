# The two set-up commands of the README:
#   make lab    create .venv, install, open the lessons in JupyterLab
#   make test   create .venv, install (with test tools and a browser), run the whole test suite
#   make preview  run every lesson and write it with its outputs to preview/ (git-ignored)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888

.PHONY: lab test system-packages benchmarks preview clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

lab: $(BIN)/.installed
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT) 00_start_here.ipynb

system-packages:
	bash scripts/install_system_packages.sh

test: $(BIN)/.installed system-packages
	$(BIN)/python -m pytest

# The lessons with their outputs (HTML and notebooks), for a teacher to read before class; it also
# warms the run cache. At most about half an hour on two cores; FAST=1 for a quick check.
preview: $(BIN)/.installed
	$(BIN)/python scripts/render_lessons.py --out preview $(if $(FAST),--fast)

benchmarks: $(BIN)/.installed
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
