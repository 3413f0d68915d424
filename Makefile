# One entry point for every developer task. The first target that needs Python creates .venv
# and installs the project with its dev extra; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install lint types test check demo bench mutation local clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project (done automatically)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

types: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

test: $(STAMP)  ## the whole pytest suite (starts its own stand-ins)
	$(BIN)/pytest

check: lint types test  ## lint + types + tests: what CI runs

demo: $(STAMP)  ## the main job end to end on the local stand-ins
	$(BIN)/python -m sfbilling.demo

bench: $(STAMP)  ## speed and memory figures against their targets (several minutes)
	$(BIN)/python -m bench.standins
	$(BIN)/python -m bench.planning
	$(BIN)/python -m bench.sync

mutation: $(STAMP)  ## mutation score of the import's pure core (mutmut; not in make test)
	rm -rf mutants
	mkdir -p build
	$(BIN)/mutmut run > build/mutmut.log 2>&1 || { tail -20 build/mutmut.log; exit 1; }
	$(BIN)/python tests/mutation_score.py

local: $(STAMP)  ## run `sfbilling local up` in the foreground (Ctrl-C to stop)
	$(BIN)/sfbilling local up

clean:  ## remove the virtualenv, caches and local state
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .local *.egg-info mutants build
