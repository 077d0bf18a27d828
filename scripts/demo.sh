#!/usr/bin/env bash
# One command from a fresh clone to the demo shop at http://127.0.0.1:8000 on the embedded
# default: SQLite, local-memory cache, Celery tasks run eagerly in-process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
PY=${VENV:-.venv}/bin/python
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL
echo "==> migrating the SQLite database (${RECO_VAR_DIR:-var}/db.sqlite3)"
$PY manage.py migrate --noinput
echo "==> demo logins: admin / admin (superuser), shopper / shopper123"
$PY manage.py shop_demo_users
echo "==> seeding the synthetic catalog and shopping history (only if the shop has no products)"
$PY manage.py shop_seed --if-empty
echo "==> training the recommendation model (only if no model is active yet)"
$PY manage.py reco_train --threads 2 --if-no-active --no-progress
echo "==> demo shop at http://127.0.0.1:${PORT:-8000}/  (admin: /admin/, log in as 'shopper' / 'shopper123' to shop)"
exec $PY manage.py runserver "127.0.0.1:${PORT:-8000}"
