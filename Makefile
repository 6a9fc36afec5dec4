# The two commands: `make run` sets everything up and serves http://127.0.0.1:8000/admin/,
# `make test` runs every test (PostgreSQL 18, then PostgreSQL 16 for compatibility).
PYTHON := .venv/bin/python

.PHONY: run setup test lint test-pg18 test-pg16 bench bench-pipeline db-stop

run: setup
	$(PYTHON) manage.py migrate
	$(PYTHON) manage.py ensure_superuser
	$(PYTHON) manage.py runserver 127.0.0.1:8000

setup:
	@bash scripts/setup

test: setup lint
	$(PYTHON) -m pytest
	GOVA_PG_BIN=$$(bash scripts/install-pg16) $(PYTHON) -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test-pg18: setup
	$(PYTHON) -m pytest

test-pg16: setup
	GOVA_PG_BIN=$$(bash scripts/install-pg16) $(PYTHON) -m pytest

# Writer stalls while a migration adds a column and an index to 1,000,000 evaluation events;
# then the event pipeline (ingest, folding, similar content, stats, leaderboard, queue, trends) at 1,000,000 events.
bench: setup
	$(PYTHON) -m bench.migration_stall
	$(PYTHON) -m bench.pipeline

# The event pipeline alone; smaller while developing: make bench-pipeline ARGS="--events 100000"
bench-pipeline: setup
	$(PYTHON) -m bench.pipeline $(ARGS)

db-stop:
	$(PYTHON) manage.py embedded_db stop
