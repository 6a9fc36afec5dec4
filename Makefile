# The two commands: `make run` sets everything up and serves http://127.0.0.1:8000/admin/,
# `make test` runs every test (PostgreSQL 18, then PostgreSQL 16 for compatibility), then the quick suite with
# the clock moved ahead.
PYTHON := .venv/bin/python
# `PORT=8001 make run` serves on another port; GOVA_BIND=0.0.0.0 on every interface (plain HTTP: take care).
PORT ?= 8000
GOVA_BIND ?= 127.0.0.1

.PHONY: run setup browser test test-quick test-clock-ahead lint test-pg18 test-pg16 bench bench-pipeline db-stop

run: setup
	$(PYTHON) manage.py migrate
	$(PYTHON) manage.py ensure_superuser
	$(PYTHON) manage.py runserver $(GOVA_BIND):$(PORT)

setup:
	@bash scripts/setup

# Headless Chromium for the browser tests, from Debian's packages (apt as root; nothing when present).
browser:
	@bash scripts/install-browser

# Two processes: the slow tests one after another in one, the rest spread over both (--dist loadgroup).
test: setup lint browser
	$(PYTHON) -m pytest -n 2 --dist loadgroup
	GOVA_PG_BIN=$$(bash scripts/install-pg16) $(PYTHON) -m pytest -n 2 --dist loadgroup
	bash scripts/test-clock-ahead

# The inner loop: no extra servers, subprocesses or scratch databases (make test runs those too), in two
# processes sharing one embedded server, each with a test database of its own.
test-quick: setup
	$(PYTHON) -m pytest -n 2 -m "not slow"

# Tests pass on any date: the quick suite with the clock 3 years ahead for pytest and its embedded server
# (Debian's faketime, installed as root when missing).
test-clock-ahead: setup
	bash scripts/test-clock-ahead

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test-pg18: setup browser
	$(PYTHON) -m pytest -n 2 --dist loadgroup

test-pg16: setup browser
	GOVA_PG_BIN=$$(bash scripts/install-pg16) $(PYTHON) -m pytest -n 2 --dist loadgroup

# Writer stalls while a migration adds a column and an index to 1,000,000 evaluation events;
# admin page timings, each against the admin index page; then the event pipeline (ingest, folding, similar
# content, stats, leaderboard, queue, trends); then the old service's waits during a takeover beside it;
# each at 1,000,000 events.
bench: setup
	$(PYTHON) -m bench.migration_stall
	$(PYTHON) -m bench.admin_pages
	$(PYTHON) -m bench.pipeline
	$(PYTHON) -m bench.takeover_beside

# The event pipeline alone; smaller while developing: make bench-pipeline ARGS="--events 100000"
bench-pipeline: setup
	$(PYTHON) -m bench.pipeline $(ARGS)

db-stop:
	$(PYTHON) manage.py embedded_db stop
