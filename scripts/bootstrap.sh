#!/usr/bin/env bash
# Create .venv (if missing) and install reco_app with its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.reco-installed"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ requirements/constraints.txt -nt "$STAMP" ]; then
  echo "==> installing reco_app and pinned dependencies (requirements/constraints.txt)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
  touch "$STAMP"
else
  echo "==> dependencies already installed in $VENV"
fi
