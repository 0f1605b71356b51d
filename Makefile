# One command to run, one to test. Everything else is set up on demand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST := $(PY) -m pytest -p no:logging

.PHONY: venv run test test-articles test-search test-health test-external test-core test-browser \
        test-pgbouncer \
        lint migrate bench bench-cpu bench-search bench-relevance check-feeds fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

## make run: embedded PostgreSQL under .data/, migrations, a development key, reload, :8000
run: $(STAMP)
	@mkdir -p .data
	@test -s .data/dev-api-key || $(PY) -c 'import secrets; print(secrets.token_urlsafe(32))' > .data/dev-api-key
	@echo "development API key (Authorization: Bearer ...): $$(cat .data/dev-api-key)"
	API_KEYS="$${API_KEYS:-$$(cat .data/dev-api-key)}" LOG_FORMAT="$${LOG_FORMAT:-console}" \
	  $(VENV)/bin/uvicorn app:app --host 127.0.0.1 --port 8000 \
	  --no-proxy-headers --reload --reload-dir core --reload-dir features

## make test: the whole suite (embedded PostgreSQL + Redis unless TEST_DATABASE_URL / REDIS_URL)
test: $(STAMP)
	$(PYTEST) -m "not browser and not pgbouncer"

test-core: $(STAMP)
	$(PYTEST) tests -m "not browser and not pgbouncer"

test-articles test-search test-health test-external: test-%: $(STAMP)
	$(PYTEST) features/$*/tests

test-browser: $(STAMP)
	$(PYTEST) -m browser

## make test-pgbouncer: two instances behind Debian's pgbouncer (transaction mode) under load
test-pgbouncer: $(STAMP)
	$(PYTEST) -m pgbouncer

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy app.py core features
	$(VENV)/bin/lint-imports

migrate: $(STAMP)
	$(PY) -m core.migrations

bench: $(STAMP)
	$(PY) -m bench.run

## make bench-cpu: CPU microseconds per request, in-process (BENCH_DATABASE_URL or embedded)
bench-cpu: $(STAMP)
	$(PY) -m bench.cpu

bench-search: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m features.search.bench

## make check-feeds DIR=...: import every feed file under DIR from loopback, print one line of totals
check-feeds: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make check-feeds DIR=folder"; exit 2; }
	$(PY) -m features.external.check_feeds "$(DIR)"

## make bench-relevance DIR=path: a judged collection through the service, beside bm25s
bench-relevance: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make bench-relevance DIR=path/to/collection"; exit 2; }
	$(PY) -m pip install --quiet -e '.[dev,bench,relevance]'
	$(PY) -m features.search.relevance "$(DIR)"

fuzz: $(STAMP)
	$(PYTEST) tests/test_fuzz.py --fuzz-examples=2000

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
