#!/usr/bin/env bash
# The demo: a regional hub and two clinic nodes with synthetic townships on 127.0.0.1, each desk
# with an emulated resident health card in a virtual reader; URLs and logins printed.
# Sets itself up first (Debian packages incl. pcscd, the virtualenv); starts pcscd if none runs.
# Extra arguments go to `rhip demo` (see `rhip demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash installers/bootstrap.sh
bash installers/pcscd.sh || echo "pcscd could not start: the demo runs without card readers" >&2
exec .venv/bin/rhip demo "$@"
