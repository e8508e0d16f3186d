# Cartera: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PORT ?= 8000
# The demo and the tests run with DEBUG on unless the environment says otherwise.
export DEBUG ?= True

.PHONY: help install run test lint format bench bench-web mutation lock vendor check-deploy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the lock file changes.
$(VENV)/.installed: requirements-dev.txt | $(PY)
	@echo "::: installing the packages into $(VENV) (the first time 1-3 minutes)"
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies

# The demo's payment links go to an in-memory gateway unless the environment says otherwise.
run: export PAYMENT_GATEWAYS_FAKE ?= True
# Links in the demo's messages (portal, payment links) point at the port it serves on.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: install ## Migrate, load the demo and serve with a Celery worker and beat
	@echo "::: 1/8 database: applying migrations (the first time about 15 s)"
	@$(MANAGE) migrate --noinput -v0
	@echo "::: 2/8 demo: customers and their histories"
	@$(MANAGE) seed_demo
	@echo "::: 3/8 demo: loans, payments and investors"
	@$(MANAGE) seed_credits
	@echo "::: 4/8 demo: the call center"
	@$(MANAGE) seed_callcenter
	@echo "::: 5/8 demo: gestiones, campaigns and surveys"
	@$(MANAGE) seed_gestiones
	@echo "::: 6/8 demo: collections (links, payments to verify, promises, agreements)"
	@$(MANAGE) seed_collections
	@echo "::: 7/8 demo: strategies and conversations (templates, segments, events, a flow)"
	@$(MANAGE) seed_strategies
	@echo "::: 8/8 demo: written-off campaigns and the /recovery portal"
	@$(MANAGE) seed_recovery
	@echo ""
	@echo "  Cartera: http://127.0.0.1:$(PORT)/   (Ctrl-C detiene web, worker y beat)"
	@echo ""
	@trap 'kill $$pids 2>/dev/null; wait 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=2 & pids="$$!"; \
	$(VENV)/bin/celery -A config beat --loglevel=INFO & pids="$$pids $$!"; \
	$(MANAGE) runserver 127.0.0.1:$(PORT)

test: install ## Run the whole suite (browser tests where /usr/bin/chromium exists)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## ruff check, format check, and the import layering (lint-imports)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install ## Fix what ruff can fix and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Benchmarks run on their own database (SQLite under var/ unless BENCH_DATABASE_URL says).
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench.sqlite3
bench: install ## Print measured times: customer list (100,000 customers), schedules, portfolio report (1,000,000 installments), call queue (100,000 leads), orders under contention, gestiones dashboards and "my work" (1,000,000 gestiones), catalog import (100,000-row .xlsx vs. bare parse), book import (100,000 customers and loans with 1,200,000 installments and their payments vs. parse + COPY), written-off campaigns import (100,000-row .xlsx vs. parse + COPY, target ≤ 4× and < 250 MB), migrating and loading the demo (target < 1 min); on PostgreSQL (bench/run): a flow step over 100,000 customers (target < 30 s, < 500 MB) and the conversations inbox over 1,000,000 messages next to the customer list
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_customers
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_credits
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_callcenter
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_gestiones
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_catalog_import
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_book_import
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_campaign_import
	$(MANAGE) bench_demo_load
	BENCH_COMMAND=bench_flows bench/run
	bench/run --only "clientes, página 1|conversaciones" --rounds 2

# Its own PostgreSQL and Redis unless BENCH_WEB_DATABASE_URL / BENCH_WEB_REDIS_URL say (bench/run).
bench-web: install ## Pages as users meet them: gunicorn + PostgreSQL + Redis, 150,000 customers, 1,000,000 installments and gestiones, next to a bare view and a 50-row table; one table of req/s, p50, p95, ratios, queries and targets
	bench/run $(BENCH_ARGS)

mutation: install ## By hand, never in CI (about an hour): mutation testing of the schedule, payment allocation, late interest and order services (mutmut, in a throwaway clone of HEAD)
	tests/mutation/run

lock: $(PY) ## Recompile requirements*.txt from pyproject.toml
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.txt pyproject.toml

vendor: ## Refresh static/vendor/ from npm (versions pinned in package-lock.json); needs npm
	npm ci --ignore-scripts --no-audit --no-fund
	rm -rf static/vendor/bootstrap static/vendor/bootstrap-icons
	mkdir -p static/vendor/chart.js static/vendor/bootstrap/css static/vendor/bootstrap/js static/vendor/bootstrap-icons/font
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map node_modules/chart.js/LICENSE.md static/vendor/chart.js/
	cp node_modules/@kurkle/color/LICENSE.md static/vendor/chart.js/LICENSE-kurkle-color.md
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map static/vendor/bootstrap/css/
	cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map static/vendor/bootstrap/js/
	cp node_modules/bootstrap/LICENSE static/vendor/bootstrap/
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts static/vendor/bootstrap-icons/font/
	cp node_modules/bootstrap-icons/LICENSE static/vendor/bootstrap-icons/

check-deploy: install ## Django's deployment checks with production settings
	DEBUG=False SECRET_KEY=$$(openssl rand -hex 32 2>/dev/null || echo x$$RANDOM$$RANDOM$$RANDOM-not-a-real-secret-key-for-checks-only-0123456789) \
	ALLOWED_HOSTS=cartera.example.com SITE_URL=https://cartera.example.com $(MANAGE) check --deploy --fail-level WARNING

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var
