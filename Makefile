# The verbs a newcomer needs. `make run` and `make test` do all set-up themselves.
PYTHON ?= python3
VENV ?= .venv
FLASK = $(VENV)/bin/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: run test lint install db clean bench soak

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# A private secret for local use; production sets FLASK_SECRET_KEY instead.
instance/config.py:
	mkdir -p instance
	$(VENV)/bin/python -c 'import secrets; print(f"SECRET_KEY = \"{secrets.token_hex(32)}\"\nSESSION_COOKIE_SECURE = False  # local http only")' > $@

db: install instance/config.py
	$(FLASK) db upgrade
	$(FLASK) demo seed --if-empty

# The web server and the one scheduler process side by side; Ctrl-C stops both.
run: db
	@echo "Labelkeeper on http://$(HOST):$(PORT) with the scheduler (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	$(FLASK) scheduler & \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmark suite on a 3,000-seller fleet it builds (or reuses) in instance/; set
# BENCH_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL. About 4 minutes.
bench: install
	$(VENV)/bin/python bench/suite.py $(BENCH_ARGS)

# The reliability tests (tests/soak, marker `soak`) with long durations: the concurrency soak,
# the kill -9 crash tests and the database faults, on SQLite and, when SOAK_DATABASE_URL names
# a PostgreSQL database the tests may empty, on PostgreSQL too (scratch databases are created
# beside it and dropped). Figures of the concurrency soak go to bench/SOAK.md. About 2 minutes
# per database, then the hostile-input properties with the `soak` hypothesis profile (about
# 10 minutes). `make test` runs the same tests for a few seconds each.
SOAK_SECONDS ?= 60
SOAK_INSPECTORS ?= 20
SOAK_CRASH_SELLERS ?= 3000
SOAK_DATABASE_URL ?=
SOAK_ENV = SOAK_SECONDS=$(SOAK_SECONDS) SOAK_INSPECTORS=$(SOAK_INSPECTORS) \
	SOAK_CRASH_SELLERS=$(SOAK_CRASH_SELLERS) SOAK_REPORT=bench/SOAK.md
soak: install
	$(SOAK_ENV) DATABASE_URL= $(VENV)/bin/pytest -m soak -p no:cacheprovider tests/soak
	@echo "== hostile input, ten times the examples (HYPOTHESIS_PROFILE=soak)"
	HYPOTHESIS_PROFILE=soak DATABASE_URL= $(VENV)/bin/pytest -p no:cacheprovider \
	  tests/web/test_hostile_*.py tests/unit
	@if [ -n "$(SOAK_DATABASE_URL)" ]; then \
	  echo "== PostgreSQL"; \
	  $(SOAK_ENV) DATABASE_URL=$(SOAK_DATABASE_URL) $(VENV)/bin/pytest -m soak -p no:cacheprovider tests/soak; \
	else echo "(set SOAK_DATABASE_URL=postgresql+psycopg://... to soak PostgreSQL too)"; fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
