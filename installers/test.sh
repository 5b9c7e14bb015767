#!/usr/bin/env bash
# The whole test suite: lint, format, types, then every test. Sets itself up first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installers/bootstrap.sh
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && .venv/bin/python -m pytest -q -n 2 "$@"
