"""The demo a newcomer runs first: a hub and two clinic nodes that sync, set up by the operators' commands."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port_block() -> int:
    """A port P with P, P+1 and P+100 free (the demo's two nodes and hub)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 100 >= 65000:
            continue
        try:
            for p in (port + 1, port + 100):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free ports")


@pytest.mark.slow
def test_demo_sets_up_a_hub_and_two_syncing_clinics(tmp_path: Path) -> None:
    port = _free_port_block()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "demo",
            "--dir",
            str(tmp_path),
            "--residents",
            "40",
            "--years",
            "1",
            "--port",
            str(port),
            "--no-serve",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert f"http://127.0.0.1:{port}/" in out and f"http://127.0.0.1:{port + 1}/" in out
    assert f"http://127.0.0.1:{port + 100}/console" in out
    assert "password:" in out
    hub = json.loads(
        subprocess.run(
            [sys.executable, "-m", "cli", "hub", "status", "--home", str(tmp_path / "hub"), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert len(hub["nodes"]) == 2 and all(n["records"] > 0 and not n["quarantined"] for n in hub["nodes"])
    for clinic in ("511321100", "511321101"):
        status = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "node",
                    "status",
                    "--home",
                    str(tmp_path / f"clinic-{clinic}"),
                    "--json",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert status["pending"] == 0 and status["last_sync"] is not None
