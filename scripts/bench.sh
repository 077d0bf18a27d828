#!/usr/bin/env bash
# Print performance figures. Each benchmark measures its own baseline in the same run and
# prints ratios against it; nothing here asserts timings.
# PostgreSQL is used when DATABASE_URL is set, or when a local server answers (the import,
# tracking and training benchmarks are about PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=${VENV:-.venv}/bin/python
if [ -z "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/reco_bench"
  createdb -h 127.0.0.1 -U postgres reco_bench 2>/dev/null || true  # exists already: fine
fi
echo "==> database: ${DATABASE_URL:-SQLite}; cache: ${REDIS_URL:-local memory}"
command -v wrk >/dev/null || echo "==> wrk is not installed: the tracking benchmark's beacons come from Python threads, which take more of the cores (apt install wrk)"
for b in ${BENCHES:-benchmarks/bench_*.py}; do
  [ -e "$b" ] || continue
  echo
  echo "==> $b"
  $PY "$b"
done
