#!/usr/bin/env bash
# The whole test suite: lint, format, types, then every test. Sets itself up first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installers/bootstrap.sh
# One command a line: `set -e` does not stop at a failure inside an `a && b` list.
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
bash installers/pcscd.sh  # the card tests talk to the real PC/SC stack
# Card tests share the one pcscd: one xdist group runs them in turn on one worker.
echo "== pytest"
.venv/bin/python -m pytest -q -n 2 --dist loadgroup "$@"
