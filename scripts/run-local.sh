#!/usr/bin/env bash
# Run the web server and the scheduler side by side for the embedded default; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
FLASK="${VENV:-.venv}/bin/flask --app wsgi"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if $FLASK scheduler --help >/dev/null 2>&1; then
  $FLASK scheduler run &
  pids+=($!)
fi
$FLASK run --host 127.0.0.1 --port 5000 &
pids+=($!)
echo "Open http://127.0.0.1:5000 (demo accounts above). Ctrl-C stops the web server and the scheduler."
wait -n "${pids[@]}"
