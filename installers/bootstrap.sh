#!/usr/bin/env bash
# Prepare a development/CI checkout on a fresh Debian machine (run as root or with sudo):
# Debian packages, the virtualenv at .venv, and rhip with its pinned dependencies.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages the project needs (checked one by one so a ready machine skips apt entirely).
# pcscd + vsmartcard-vpcd: the PC/SC stack and virtual reader the card tests run against;
# swig, libpcsclite-dev, gcc and python3-dev: to build pyscard (it ships no Linux wheel).
# chromium + fonts-noto-cjk: the browser tests (Playwright drives /usr/bin/chromium) and screenshots.
DEBS=(ca-certificates sqlite3 pcscd libpcsclite-dev swig vsmartcard-vpcd gcc python3-dev chromium fonts-noto-cjk)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then DEBS+=(python3-venv python3-dev); fi
missing=()
for p in "${DEBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.rhip-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
