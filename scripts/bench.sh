#!/usr/bin/env bash
# Print performance figures. Each benchmark prints its own baseline from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=${VENV:-.venv}/bin/python
for b in benchmarks/bench_*.py; do
  [ -e "$b" ] || continue
  echo "==> $b"
  $PY "$b"
done
