# One entry point for everything. `make help` lists the targets.
# Every target that needs Python installs the locked environment first (once).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The stamps name the lock and pyproject.toml they were made from (the project's
# entry points live there), so switching branches re-installs only on change.
LOCK_SUM := $(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# Three environments, each a superset of the one before (the lock's lines are marked
# by role; infra/lockfile.py selects them):
# RUN_STAMP: what running needs (lines marked localbridge, api or jobs) and this
# project, editable (.venv/bin/localbridge), for run, api, data, invoke.
# DEPLOY_STAMP: and the deploy tools (lines marked deploy), for deploy, deploy-local.
# STAMP: everything (the dev tools too), for install, test, lint, bench.
RUN_STAMP := $(VENV)/.run-$(LOCK_SUM)
DEPLOY_STAMP := $(VENV)/.deploy-$(LOCK_SUM)
STAMP := $(VENV)/.installed-$(LOCK_SUM)
# uv installs from the lock; pip, the one installer a fresh venv has, installs uv
# at the lock's version (its `# installer` line).
UV_PIP := $(BIN)/uv pip install --python $(PY)
# Tests start hundreds of interpreters: let Python keep its bytecode cache even
# where the environment turns it off (gitignored __pycache__ directories).
unexport PYTHONDONTWRITEBYTECODE
# `make test`'s pytest workers: most tests wait on real processes and sockets,
# so four keep two cores busy (about 1.5 of them) and finish sooner; 1 runs the
# suite in one process.
TEST_WORKERS ?= 4
PYTEST = $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

STAGE ?= dev
FN ?= registrations_per_day
# `make invoke FN=x TIME=2022-12-19T01:00:00Z`: the scheduled time to send
# (empty: now, which posts a result for the current, real period).
TIME ?=
# `make run`'s ports: the results API and the Lambda Invoke API.
API_PORT ?= 5000
LAMBDA_PORT ?= 3001
# `make run` starts a virtual clock just before the last complete week of the
# shipped data and runs it at 4 virtual hours per second, so every result
# (week 50, the last days' counts) is in the API within about half a minute.
CLOCK_START ?= 2022-12-18T23:59:00Z
# The virtual period ends with the shipped data: the last day (2022-12-22) is
# counted at 2022-12-23T00:05Z; after that nothing fires and the console stays up.
CLOCK_END ?= 2022-12-23T00:05:00Z
SPEED ?= 14400
# Empty: the console takes port 3000, or runs without it when 3000 is busy.
CONSOLE_PORT ?=

# `make deploy-local`: ENGINE=auto picks LocalStack when a Docker engine answers,
# else the embedded emulated AWS on 127.0.0.1:$(ENDPOINT_PORT). Its clock is the
# real one unless CLOCK_START or SPEED is given on the command line or in the
# environment (the defaults above are `make run`'s, not deploy-local's).
ENGINE ?= auto
ENDPOINT_PORT ?= 4566
DEPLOY_CLOCK := $(if $(filter file,$(origin CLOCK_START)),,--clock-start $(CLOCK_START)) \
                $(if $(filter file,$(origin SPEED)),,--speed $(SPEED))

export AWS_DEFAULT_REGION ?= us-east-1

.DEFAULT_GOAL := help
.PHONY: help install lock lint typecheck test check run api data invoke bench bench-api \
        deploy destroy deploy-local destroy-local clean

# Colour only on a terminal (and not with NO_COLOR set): `make help | less` stays plain.
# Each variable names every target that reads it (tests/project/test_make_help.py checks).
help: ## list the targets and the variables they take
	@if [ -t 1 ] && [ -z "$$NO_COLOR" ]; then on='\033[36m' off='\033[0m'; else on= off=; fi; \
	grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} {printf "  %s%-14s%s %s\n", on, $$1, off, $$2}'
	@echo
	@echo "Variables (give them on the command line: make run SPEED=3600 API_PORT=5050):"
	@printf "  %-14s %s\n" \
		CLOCK_START "make run, make deploy-local: where the virtual clock starts (make run's: $(CLOCK_START); deploy-local's: the real clock unless given)" \
		CLOCK_END "make run: nothing scheduled after it fires (now $(CLOCK_END))" \
		SPEED "make run, make deploy-local: virtual seconds per real second (make run's: $(SPEED); deploy-local's: 1 unless given)" \
		API_PORT "make run, make api, make invoke, make deploy-local: the results API's port (now $(API_PORT))" \
		LAMBDA_PORT "make run: the Lambda Invoke API's port (now $(LAMBDA_PORT))" \
		CONSOLE_PORT "make run: the web console's port (empty: 3000 if free)" \
		FN "make invoke: the function (now $(FN))" \
		TIME "make invoke: its scheduled time, e.g. 2022-12-19T01:00:00Z (empty: now)" \
		STAGE "make deploy, make destroy: the Chalice stage (now $(STAGE))" \
		ENGINE "make deploy-local, make destroy-local: auto, localstack or embedded (now $(ENGINE))" \
		ENDPOINT_PORT "make deploy-local, make destroy-local: the emulated AWS endpoint's port (now $(ENDPOINT_PORT))" \
		TEST_WORKERS "make test, make check: pytest's worker processes (now $(TEST_WORKERS); 1: one process)" \
		PYTHON "make lock, and the first install of .venv by any target: the interpreter (now $(PYTHON))"

$(VENV)/.uv-$(LOCK_SUM): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the installer, uv, with pip (a few seconds)"
	$(PY) -m pip install --quiet --disable-pip-version-check \
		$$(sed -n 's/ *# installer$$//p' requirements.lock)
	@rm -f $(VENV)/.uv-* && touch $@

$(RUN_STAMP): $(VENV)/.uv-$(LOCK_SUM) pyproject.toml
	@echo "installing what running needs and this project (editable) with uv"
	$(PY) -m infra.lockfile select localbridge api jobs < requirements.lock \
		> $(VENV)/requirements-run.txt
	$(UV_PIP) -r $(VENV)/requirements-run.txt
	$(UV_PIP) --no-deps -e .
	@rm -f $(VENV)/.run-* && touch $@

$(DEPLOY_STAMP): $(RUN_STAMP)
	@echo "installing the deploy tools with uv"
	$(PY) -m infra.lockfile select localbridge api jobs deploy < requirements.lock \
		> $(VENV)/requirements-deploy.txt
	$(UV_PIP) -r $(VENV)/requirements-deploy.txt
	@rm -f $(VENV)/.deploy-* && touch $@

$(STAMP): $(DEPLOY_STAMP)
	@echo "installing the dev tools with uv"
	$(UV_PIP) -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## .venv: every locked dependency (dev tools too) and this project (editable)

lock: ## re-resolve pyproject.toml's dependencies into requirements.lock (lines marked by role)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	$(PYTHON) -m infra.lockfile requirements > .venv-lock/requirements.in
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -r .venv-lock/requirements.in
	.venv-lock/bin/pip freeze --exclude-editable > .venv-lock/freeze.txt
	.venv-lock/bin/python -m infra.lockfile < .venv-lock/freeze.txt > requirements.lock
	rm -rf .venv-lock

lint: $(STAMP) ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

test: $(STAMP) ## ruff check, mypy and the whole test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(PYTEST)

check: lint typecheck ## lint with the format check, typecheck, the test suite: each tool once
	$(PYTEST)

data/registrations.db:
	$(MAKE) data

data: $(RUN_STAMP) ## generate data/registrations.db (deterministic)
	$(PY) -m data

run: $(RUN_STAMP) data/registrations.db ## results API + localbridge on the shipped data (virtual clock)
	$(PY) -m infra.local --clock-start $(CLOCK_START) --clock-end $(CLOCK_END) --speed $(SPEED) \
		--api-port $(API_PORT) --lambda-port $(LAMBDA_PORT) \
		$(if $(CONSOLE_PORT),--console-port $(CONSOLE_PORT))

api: $(RUN_STAMP) ## the results API alone on 127.0.0.1:API_PORT
	PORT=$(API_PORT) $(PY) -m api

invoke: $(RUN_STAMP) data/registrations.db ## fire one function: make invoke FN=<name> [TIME=<scheduled time>]
	$(PY) -m localbridge invoke $(FN) $(if $(TIME),--time $(TIME)) \
		--env RESULTS_API_URL=http://127.0.0.1:$(API_PORT)

bench: $(STAMP) ## all benchmarks (prints figures; not a test)
	$(PY) -m bench

bench-api: $(STAMP) ## results API throughput and latency
	$(PY) -m bench api

deploy: $(DEPLOY_STAMP) ## chalice deploy --stage STAGE (AWS_ENDPOINT_URL honoured)
	$(PY) -m infra.deploy deploy --stage $(STAGE)

destroy: $(DEPLOY_STAMP) ## chalice delete --stage STAGE
	$(PY) -m infra.deploy destroy --stage $(STAGE)

deploy-local: $(DEPLOY_STAMP) data/registrations.db ## deploy to LocalStack (Docker) or the embedded emulated AWS
	$(PY) -m infra.deploy_local up --engine $(ENGINE) --port $(ENDPOINT_PORT) $(DEPLOY_CLOCK) \
		$(if $(filter file,$(origin API_PORT)),,--api-port $(API_PORT))

destroy-local: $(DEPLOY_STAMP) ## delete the local deployment and stop what deploy-local started
	$(PY) -m infra.deploy_local down --engine $(ENGINE) $(if $(filter file,$(origin ENDPOINT_PORT)),,--port $(ENDPOINT_PORT))

clean: ## remove .venv, generated runtime files and local deployment records
	rm -rf $(VENV) .venv-lock .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	rm -f data/*.db data/*.db-wal data/*.db-shm
	rm -rf .chalice/deployments
	rm -f .chalice/deployed/local.json .chalice/deployed/localstack.json
	@# Another stage's record is how chalice finds what it deployed (to AWS, say):
	@# removing it would orphan that deployment, so it stays, with a word why.
	@for kept in $(wildcard .chalice/deployed/*.json); do case $$kept in \
		*/local.json|*/localstack.json) ;; \
		*) echo "kept $$kept: chalice needs it to update or delete that deployment;" \
			"run make destroy STAGE=$$(basename $$kept .json) first, or delete it yourself";; \
	esac; done
	@rmdir .chalice/deployed 2>/dev/null || true
	@# deploy-local's embedded engine keeps its state, unpacked code and the pid files
	@# destroy-local stops it by in data/emulated-aws: kept while a process it names runs.
	@running=$$(for pid in $(wildcard data/emulated-aws/*.pid); do \
		kill -0 $$(cat $$pid) 2>/dev/null && echo $$pid; done); \
	if [ -n "$$running" ]; then \
		echo "kept data/emulated-aws: still running ($$running); run make destroy-local first"; \
	else rm -rf data/emulated-aws data/deploy-local.json; fi
