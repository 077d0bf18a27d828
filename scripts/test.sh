#!/usr/bin/env bash
# Install (if needed) and run the test suite. Services are used when DATABASE_URL /
# REDIS_URL / CELERY_BROKER_URL are set (CI sets them); otherwise SQLite + locmem.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=${VENV:-.venv}/bin/python
echo "==> database: ${DATABASE_URL:-SQLite (embedded)}; cache: ${REDIS_URL:-local memory}; broker: ${CELERY_BROKER_URL:-eager}"
echo "==> static checks: ruff (lint) and mypy (types, django-stubs), configured in pyproject.toml"
${VENV:-.venv}/bin/ruff check .
$PY -m mypy
echo "==> running pytest"
exec $PY -m pytest "$@"
