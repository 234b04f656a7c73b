# One-command reproduction. `make help` lists everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed

PROFILE ?= quick
EXECUTOR ?= serial
SEEDS ?=
JOBS ?=
ARGS ?=
export PROFILE EXECUTOR SEEDS JOBS

# Papers = folders under papers/ with a run.py; targets use hyphens (reproduce-graph-ssad).
PAPERS := $(sort $(patsubst papers/%/run.py,%,$(wildcard papers/*/run.py)))
HYPHEN_PAPERS := $(subst _,-,$(PAPERS))
REPRO_TARGETS := $(addprefix reproduce-,$(HYPHEN_PAPERS))

.DEFAULT_GOAL := help
.PHONY: help setup test test-all lint results reproduce-all list clean-runs bench-overhead data-status $(REPRO_TARGETS)

help: ## this list
	@echo "Usage: make <target> [PROFILE=smoke|quick|full] [EXECUTOR=serial|local|slurm] [SEEDS=0,1,2|0-4] [JOBS=N] [ARGS='--set key=value']"
	@echo
	@printf "  %-22s %s\n" "reproduce-<paper>" "run a paper's tables for PROFILE (default quick); creates .venv on first use"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-22s %s\n", $$1, $$2}'
	@echo
	@echo "Papers: $(if $(HYPHEN_PAPERS),$(HYPHEN_PAPERS),(none yet))"

$(VENV_STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

setup: $(VENV_STAMP) ## create the virtual environment (.venv) from requirements.txt

$(REPRO_TARGETS): reproduce-%: $(VENV_STAMP)
	$(PY) -m common.cli reproduce $* $(ARGS)

reproduce-%:
	@# only reached for names that are not papers (the static pattern rule above wins otherwise)
	@echo "error: unknown paper '$*'. Available papers: $(if $(HYPHEN_PAPERS),$(HYPHEN_PAPERS),(none yet))" >&2; exit 2

reproduce-all: $(VENV_STAMP) ## reproduce every paper for PROFILE, one after the other
	@set -e; for p in $(HYPHEN_PAPERS); do $(PY) -m common.cli reproduce $$p $(ARGS); done

results: $(VENV_STAMP) ## claims of every paper -> results/SUMMARY.md, README tables
	$(PY) -m common.cli results

test: $(VENV_STAMP) ## the default test set (no slow/gpu tests), well under 15 minutes
	$(PY) -m pytest -q -m "not slow and not gpu"

test-all: $(VENV_STAMP) ## every test, slow ones included
	$(PY) -m pytest -q

lint: $(VENV_STAMP) ## ruff
	$(PY) -m ruff check common papers tests

list: $(VENV_STAMP) ## the papers that can be reproduced
	@$(PY) -m common.cli list

bench-overhead: $(VENV_STAMP) ## sweep overhead per cell (no-op cells, serial executor)
	$(PY) -m tests.bench_sweep_overhead

data-status: $(VENV_STAMP) ## which shared datasets are found on this machine
	$(PY) -m common.data

clean-runs: ## delete runs/ (raw run folders; results/ is kept)
	rm -rf runs
