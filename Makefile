# Two commands for a fresh machine: `make run` (the system on http://127.0.0.1:5000) and
# `make test` (the suite on SQLite, then on PostgreSQL). Each installs what it needs.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-pg test-browser pg-up lint bench-data i18n

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load
	bash scripts/run-local.sh

test: install
	bash scripts/run-tests.sh

test-sqlite: install
	$(PY) -m pytest -q

test-pg: install pg-up
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest -q

test-browser: install
	$(PY) -m pytest -q -m browser

pg-up:
	bash scripts/pg-up.sh

lint: install
	$(VENV)/bin/ruff check app tests bench

# Translations (README, Translations): extract the msgids (Chinese) from the code, templates and workflow
# labels, merge them into each catalogue, compile. Commit the .po and the .mo.
BABEL := $(PY) -m babel.messages.frontend
i18n: install
	$(BABEL) extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output --omit-header -o app/translations/messages.pot .
	$(BABEL) update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete
	$(BABEL) compile -d app/translations --statistics
