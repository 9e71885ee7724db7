# The two set-up commands of the README:
#   make lab    create .venv, install, open the lessons in JupyterLab (00_start_here first)
#   make test   create .venv, install (with test tools and a browser), run the whole test suite
# the code-free app of one lesson, and the lessons with their outputs for a teacher:
#   make voila LESSON=02_degradation
#   make preview  run every lesson and write it with its outputs to preview/ (git-ignored)
#
# Variables: PORT (JupyterLab, default 8888), VOILA_PORT (default 8866), OPEN_BROWSER=no to
# print the address instead of opening a browser, PYTHON (the Python that makes .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
VOILA_PORT ?= 8866
LESSON ?= 02_degradation
OPEN_BROWSER ?= yes

# Jupyter refuses to run as root unless told; our CI and many containers and cloud VMs are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
NO_BROWSER := $(if $(filter no,$(OPEN_BROWSER)),--no-browser)

.PHONY: lab voila test system-packages benchmarks preview clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

lab: $(BIN)/.installed
	@$(BIN)/python scripts/check_port.py $(PORT) "make lab PORT=$$(( $(PORT) + 1 ))"
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.port=$(PORT) \
		--ServerApp.port_retries=0 $(ALLOW_ROOT) $(NO_BROWSER) \
		--LabApp.default_url=/lab/tree/00_start_here.ipynb notebooks/00_start_here.ipynb

voila: $(BIN)/.installed
	@test -f notebooks/$(LESSON).ipynb || { echo "no lesson notebooks/$(LESSON).ipynb; the lessons are: $$(cd notebooks && ls *.ipynb | sed 's/.ipynb//' | tr '\n' ' ')"; exit 1; }
	@$(BIN)/python scripts/check_port.py $(VOILA_PORT) "make voila LESSON=$(LESSON) VOILA_PORT=$$(( $(VOILA_PORT) + 1 ))"
	$(BIN)/voila notebooks/$(LESSON).ipynb --port=$(VOILA_PORT) --Voila.port_retries=0 $(NO_BROWSER)

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
