#!/usr/bin/env bash
# The test command (`make test`, and `.ci/run`): the whole suite on SQLite (browser tests
# included), then again on PostgreSQL (the browser tests serve their own SQLite database, so
# they are not repeated there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/test}
bash scripts/install-browser.sh || true
echo "== suite on SQLite"
"$PY" -m pytest -q "$@"
echo "== suite on PostgreSQL ($PG_URL)"
bash scripts/pg-up.sh
TEST_DATABASE_URL="$PG_URL" "$PY" -m pytest -q -m "not browser" "$@"
