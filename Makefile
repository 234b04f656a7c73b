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
export PROFILE EXECUTOR SEEDS JOBS FRESH RESULTS_NAME ALLOW_CPU_FULL ALLOW_DIRTY REPRO_DATA REPRO_OFFLINE \
	REPRO_RUNS REPRO_RESULTS SLURM_PARTITION SLURM_GPUS SLURM_CPUS SLURM_MEM SLURM_TIME \
	SLURM_ARRAY_PARALLELISM SLURM_ACCOUNT

# Papers = folders under papers/ with a run.py; targets use hyphens (reproduce-graph-ssad).
# papers/_template is the example paper: `make reproduce-template`, not in the list or reproduce-all.
PAPERS := $(filter-out _%,$(sort $(patsubst papers/%/run.py,%,$(wildcard papers/*/run.py))))
HYPHEN_PAPERS := $(subst _,-,$(PAPERS))
REPRO_TARGETS := $(addprefix reproduce-,$(HYPHEN_PAPERS))

.DEFAULT_GOAL := help
.PHONY: check-drift help setup test test-all lint results compare reproduce-all reproduce-template list clean-runs bench-overhead \
	data-status slurm-start slurm-stop $(REPRO_TARGETS)

help: ## this list
	@echo "Usage: make <target> [PROFILE=smoke|quick|full] [EXECUTOR=serial|local|slurm] [SEEDS=0,1,2|0-4] [JOBS=N] [ARGS='--set key=value']"
	@echo
	@printf "  %-22s %s\n" "reproduce-<paper>" "run a paper's tables for PROFILE (default quick); creates .venv on first use"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-22s %s\n", $$1, $$2}'
	@echo
	@echo "Papers: $(if $(HYPHEN_PAPERS),$(HYPHEN_PAPERS),(none yet))"
	@echo
	@echo "Variables (make VAR=value or environment):"
	@printf "  %-24s %s\n" \
	  "PROFILE" "smoke (seconds, tests) | quick (CPU, default) | full (the paper's setting, GPU)" \
	  "EXECUTOR" "serial (default) | local (JOBS processes) | slurm (one job array per table)" \
	  "SEEDS" "other seeds than the table's: 0,1,2 or 0-9; results go to results/<paper>/<profile>-seeds0-9/" \
	  "ARGS" "'--set key=value' on every cell, '--tables t1_x'; --set results go to <profile>-set-key=value/" \
	  "RESULTS_NAME" "name the results folder of a run with other seeds/settings yourself" \
	  "JOBS" "parallel cells (local; 0 = one per core), array parallelism (slurm)" \
	  "FRESH=1" "rerun finished cells made by an older commit of common/ + papers/<paper>/ (stale cells)" \
	  "ALLOW_CPU_FULL=1" "let PROFILE=full run without a GPU (here, or EXECUTOR=slurm with SLURM_GPUS=0)" \
	  "ALLOW_DIRTY=1" "aggregate rows from uncommitted code into results/ (marked as such)" \
	  "REPRO_DATA" "colon-separated folders holding the datasets (searched before data/)" \
	  "REPRO_OFFLINE=1" "never download a dataset; fail with where to put it instead" \
	  "REPRO_RUNS, REPRO_RESULTS" "run folders (default runs/) and results (default results/); scratch results touch no tracked file" \
	  "SLURM_PARTITION" "EXECUTOR=slurm: partition (or ARGS='--slurm-partition gpu')" \
	  "SLURM_GPUS" "GPUs per cell (default 1 for PROFILE=full, else 0; full refuses 0 without ALLOW_CPU_FULL=1)" \
	  "SLURM_CPUS" "CPUs per cell = its torch threads (default 4 for full, else 1)" \
	  "SLURM_MEM" "memory per cell, e.g. 16G (default: the partition's)" \
	  "SLURM_TIME" "time limit per cell: minutes or [D-]HH:MM:SS (default 240)" \
	  "SLURM_ARRAY_PARALLELISM" "cells of one array running at once (default JOBS, else 64)" \
	  "SLURM_ACCOUNT" "account to charge"

$(VENV_STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

setup: $(VENV_STAMP) ## create the virtual environment (.venv) from requirements.txt

$(REPRO_TARGETS): reproduce-%: $(VENV_STAMP)
	$(PY) -m common.cli reproduce $* $(ARGS)

reproduce-template: $(VENV_STAMP) ## run the example paper papers/_template (PROFILE=smoke: seconds)
	$(PY) -m common.cli reproduce _template $(ARGS)

reproduce-%:
	@# only reached for names that are not papers (the static pattern rule above wins otherwise)
	@echo "error: unknown paper '$*'. Available papers: $(if $(HYPHEN_PAPERS),$(HYPHEN_PAPERS),(none yet))" >&2; exit 2

reproduce-all: $(VENV_STAMP) ## reproduce every paper for PROFILE, one after the other
	@set -e; for p in $(HYPHEN_PAPERS); do $(PY) -m common.cli reproduce $$p $(ARGS); done

results: $(VENV_STAMP) ## claims of every paper -> results/SUMMARY.md, README tables
	$(PY) -m common.cli results

compare: $(VENV_STAMP) ## compare result CSVs: A=<dir|git ref> B=<dir|git ref> [PAPER=] [PROFILE=] [TOL=] [COLUMNS=]
	$(PY) -m common.compare $(if $(A),A=$(A)) $(if $(B),B=$(B)) $(if $(PAPER),PAPER=$(PAPER)) $(if $(filter command line,$(origin PROFILE)),PROFILE=$(PROFILE)) $(if $(TOL),TOL=$(TOL)) $(if $(COLUMNS),COLUMNS=$(COLUMNS)) $(ARGS)

check-drift: $(VENV_STAMP) ## rerun each paper's DRIFT cell (claims.py) and compare it with the committed value
	$(PY) -m common.drift $(PAPER)

test: $(VENV_STAMP) ## the default test set (no slow/gpu tests); slurm tests skip unless a cluster answers
	$(PY) -m pytest -q -m "not slow and not gpu"

test-slurm: $(VENV_STAMP) ## only the EXECUTOR=slurm end-to-end tests (start a cluster first: make slurm-start)
	$(PY) -m pytest -q -m slurm

test-all: $(VENV_STAMP) ## every test, slow ones included
	$(PY) -m pytest -q

lint: $(VENV_STAMP) ## ruff
	$(PY) -m ruff check common papers tests

plan: $(VENV_STAMP) ## cells per paper and table for PROFILE (default here: full) = Slurm array sizes
	@$(PY) -m common.cli plan --profile $(if $(filter command line environment,$(origin PROFILE)),$(PROFILE),full)

list: $(VENV_STAMP) ## the papers that can be reproduced
	@$(PY) -m common.cli list

bench-overhead: $(VENV_STAMP) ## sweep overhead per cell (no-op cells, serial executor)
	$(PY) -m tests.bench_sweep_overhead

data-status: $(VENV_STAMP) ## which shared datasets are found on this machine
	$(PY) -m common.data

clean-runs: ## delete runs/ (raw run folders; results/ is kept)
	rm -rf runs

slurm-start: ## start a one-node Slurm cluster on this machine (root; scripts/slurm-local.sh)
	scripts/slurm-local.sh start

slurm-stop: ## stop it
	scripts/slurm-local.sh stop
