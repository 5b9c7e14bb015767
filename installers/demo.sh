#!/usr/bin/env bash
# The demo: a clinic node with a synthetic township on 127.0.0.1, URLs and logins printed.
# Sets itself up first. Extra arguments go to `rhip demo` (see `rhip demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash installers/bootstrap.sh
exec .venv/bin/rhip demo "$@"
