#!/usr/bin/env bash
# Start pcscd (the PC/SC daemon; with vsmartcard-vpcd it offers the virtual readers
# "Virtual PCD 00 00" and "… 00 01" on 127.0.0.1:35963/35964) unless one runs already.
# Only one pcscd runs on a machine: card tests and benchmarks take turns through
# /tmp/rhip-pcscd.lock. A pcscd started here is recorded in /run/rhip-pcscd.pid, which
# lets the reader-unplug test restart it (it never restarts a pcscd it did not start).
# Run as root (CI) or with sudo. Idempotent.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if pidof pcscd >/dev/null 2>&1; then
  exit 0
fi
if ! command -v pcscd >/dev/null 2>&1; then
  echo "pcscd is not installed: run installers/bootstrap.sh first" >&2
  exit 1
fi
if [ ! -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ]; then
  echo "the vpcd virtual reader driver is missing: apt-get install vsmartcard-vpcd" >&2
  exit 1
fi
$SUDO pcscd  # forks into the background (no systemd here); never --auto-exit
for _ in $(seq 1 50); do
  if [ -S /run/pcscd/pcscd.comm ] && [ -f /run/pcscd/pcscd.pid ]; then
    pid=$(tr -d '\0\n' < /run/pcscd/pcscd.pid)
    echo "$pid" | $SUDO tee /run/rhip-pcscd.pid >/dev/null
    echo "pcscd started (pid $pid)" >&2
    exit 0
  fi
  sleep 0.1
done
echo "pcscd did not come up within 5 s; run 'pcscd -f -d' to see why" >&2
exit 1
